/**
 * A small Prometheus registry (text exposition format 0.0.4): counters,
 * gauges and histograms, enough for the log's own metrics without a
 * dependency.
 */

type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(
    ([k, v]) => `${k}="${v.replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : '\\' + c))}"`,
  );
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(by = 1): void {
    this.value += by;
  }
  get(): number {
    return this.value;
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} counter\n${this.name} ${this.value}\n`;
  }
}

export class Gauge implements Metric {
  private value = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    /** Computes the value at render time; replaced when another owner registers the same gauge. */
    public collect?: () => number,
  ) {}
  set(value: number): void {
    this.value = value;
  }
  get(): number {
    return this.collect ? this.collect() : this.value;
  }
  render(): string {
    return `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} gauge\n${this.name} ${this.get()}\n`;
  }
}

export class Histogram implements Metric {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) this.counts[i]!++;
  }
  render(): string {
    let out = `# HELP ${this.name} ${this.help}\n# TYPE ${this.name} histogram\n`;
    this.buckets.forEach((b, i) => {
      out += `${this.name}_bucket${labelText({ le: String(b) })} ${this.counts[i]}\n`;
    });
    out += `${this.name}_bucket${labelText({ le: '+Inf' })} ${this.count}\n`;
    out += `${this.name}_sum ${this.sum}\n${this.name}_count ${this.count}\n`;
    return out;
  }
}

/**
 * The metrics of one process. Registering a name again returns the metric
 * already registered (so a counter survives a role change, e.g. a standby
 * becoming the leader); a gauge registered again with `collect` reads from
 * its new owner. Throws TypeError if the name is taken by another kind.
 */
export class Registry {
  private readonly metrics = new Map<string, Metric>();
  counter(name: string, help: string): Counter {
    return this.add(name, Counter, () => new Counter(name, help));
  }
  gauge(name: string, help: string, collect?: () => number): Gauge {
    const g = this.add(name, Gauge, () => new Gauge(name, help, collect));
    if (collect) g.collect = collect;
    return g;
  }
  histogram(name: string, help: string, buckets: number[]): Histogram {
    return this.add(name, Histogram, () => new Histogram(name, help, buckets));
  }
  private add<M extends Metric>(name: string, kind: abstract new (...args: never[]) => M, make: () => M): M {
    const old = this.metrics.get(name);
    if (old) {
      if (!(old instanceof kind)) throw new TypeError(`metric ${name} is already registered as another kind`);
      return old;
    }
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }
}
