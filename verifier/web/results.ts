/**
 * The results view of the web page: the counter's newest snapshot
 * (verifier/snapshot.ts, its `latest.json`) shown per contest — reporting
 * progress, preliminary, final and counted votes side by side, seats, and
 * the discrepancy list — with a button beside each record it names that
 * proves, in the browser, that the record is in the log.
 */
import type { ResultSnapshot } from '../snapshot.js';
import type { Strings } from './strings.js';

type El = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
) => HTMLElementTagNameMap[K];

/** Renders `snap` into `container`; `prove(index)` is called when a record's button is pressed. */
export function renderResults(
  container: HTMLElement,
  snap: ResultSnapshot,
  t: Strings,
  el: El,
  prove: (index: number) => void,
): void {
  const e = snap.election;
  const parts: HTMLElement[] = [
    el('p', t.resultsAt(e.title, t.phaseNames[e.phase] ?? e.phase, snap.log.size)),
  ];
  const proveButton = (index: number) => {
    const b = el('button', t.prove(index), 'prove');
    b.type = 'button';
    b.addEventListener('click', () => prove(index));
    return b;
  };
  if (snap.tallyRecord) {
    const p = el('p');
    p.append(proveButton(snap.tallyRecord.index));
    parts.push(p);
  }
  const root = snap.results.districts.find((d) => d.parent === null);
  const names = new Map(snap.results.districts.map((d) => [d.id, d.name]));
  for (const c of e.contests) {
    const tally = snap.tally?.contests[c.id];
    const sums = root?.contests[c.id]?.sums;
    if (!sums) continue;
    const section = el('section');
    section.append(el('h3', c.title));
    const polling = tally?.polling ?? e.counts.polling;
    const electorate = tally?.electorate ?? e.counts.electorate;
    const share = electorate > 0 ? `${((100 * sums.counted.electorate) / electorate).toFixed(1)}%` : '–';
    section.append(el('p', t.reporting(sums.counted.districts, polling, share)));
    if (tally) section.append(el('p', tally.provisional ? t.provisional : t.finalCount));

    const table = el('table');
    table.append(el('caption', c.title));
    const head = el('tr');
    for (const h of [
      t.optionHeader,
      t.preliminaryHeader,
      t.finalHeader,
      t.countedHeader,
      ...(tally ? [t.seatsHeader] : []),
    ]) {
      const th = el('th', h);
      th.scope = 'col';
      head.append(th);
    }
    const thead = el('thead');
    thead.append(head);
    const tbody = el('tbody');
    const row = (label: string, values: Array<number | string>) => {
      const tr = el('tr');
      const th = el('th', label);
      th.scope = 'row';
      tr.append(th, ...values.map((v) => el('td', String(v))));
      tbody.append(tr);
    };
    for (const o of c.options)
      row(o.title, [
        sums.preliminary.votes[o.id] ?? 0,
        sums.final.votes[o.id] ?? 0,
        sums.counted.votes[o.id] ?? 0,
        ...(tally ? [tally.seats.seats[o.id] ?? 0] : []),
      ]);
    row(t.blank, [sums.preliminary.blank, sums.final.blank, sums.counted.blank, ...(tally ? [''] : [])]);
    row(t.invalid, [
      sums.preliminary.invalid,
      sums.final.invalid,
      sums.counted.invalid,
      ...(tally ? [''] : []),
    ]);
    table.append(thead, tbody);
    const scroll = el('div', undefined, 'table');
    scroll.append(table);
    section.append(scroll);
    if (tally) section.append(el('p', t.eballots(tally.eballots.ballots)));

    section.append(el('h4', t.discrepanciesHeading));
    const ds = snap.results.discrepancies.filter((d) => d.contest === c.id);
    if (ds.length === 0) section.append(el('p', t.noDiscrepancies));
    else {
      const ul = el('ul');
      for (const d of ds) {
        const li = el('li', (t.discrepancy[d.kind] ?? String)(names.get(d.district) ?? d.district) + ' ');
        for (const r of [d.preliminary, d.final]) if (r) li.append(proveButton(r.index), ' ');
        ul.append(li);
      }
      section.append(ul);
    }
    parts.push(section);
  }
  container.replaceChildren(...parts);
}
