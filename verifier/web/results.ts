/**
 * The results view of the web page: the counter's newest snapshot
 * (verifier/snapshot.ts, its `latest.json`) shown per contest — reporting
 * progress, preliminary, final and counted votes side by side, seats, and
 * the discrepancy list, and the district tree (each district's reporting
 * progress, each polling district's reports) — with a button beside each
 * record it names that proves, in the browser, that the record is in the log.
 */
import type { ContestDef } from '../../ledger/record.js';
import type { DistrictResult, ReportFigure } from '../../ledger/results.js';
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

    // An encrypted election's decrypted e-votes, beside the paper counts and in the total the seats are over.
    const evotes = tally?.eballots.decrypted;
    const table = el('table');
    table.append(el('caption', c.title));
    const head = el('tr');
    for (const h of [
      t.optionHeader,
      t.preliminaryHeader,
      t.finalHeader,
      t.countedHeader,
      ...(evotes ? [t.evotesHeader, t.totalHeader] : []),
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
        ...(evotes ? [evotes.votes[o.id] ?? 0, tally!.counted.votes[o.id] ?? 0] : []),
        ...(tally ? [tally.seats.seats[o.id] ?? 0] : []),
      ]);
    const blanks = (paper: number) => [...(evotes ? ['', paper] : []), ...(tally ? [''] : [])];
    row(t.blank, [
      sums.preliminary.blank,
      sums.final.blank,
      sums.counted.blank,
      ...blanks(tally?.counted.blank ?? 0),
    ]);
    row(t.invalid, [
      sums.preliminary.invalid,
      sums.final.invalid,
      sums.counted.invalid,
      ...blanks(tally?.counted.invalid ?? 0),
    ]);
    table.append(thead, tbody);
    const scroll = el('div', undefined, 'table');
    scroll.append(table);
    section.append(scroll);
    if (tally) section.append(el('p', t.eballots(tally.eballots.ballots)));
    if (evotes)
      section.append(el('p', t.decrypted(evotes.ballots, tally!.eballots.ballots, evotes.districts)));

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
    section.append(el('h4', t.districtsHeading));
    section.append(districtTree(snap.results.districts, c, t, el, proveButton));
    parts.push(section);
  }
  container.replaceChildren(...parts);
}

/**
 * The district tree of one contest as nested lists: a district above the
 * polling districts is a disclosure (its children rendered when first
 * opened: a national tree has thousands) headed by its reporting progress;
 * a polling district shows its current preliminary and final reports, each
 * with the button proving its record.
 */
function districtTree(
  districts: readonly DistrictResult[],
  contest: ContestDef,
  t: Strings,
  el: El,
  proveButton: (index: number) => HTMLButtonElement,
): HTMLElement {
  const children = new Map<string | null, DistrictResult[]>();
  for (const d of districts) children.set(d.parent, [...(children.get(d.parent) ?? []), d]);
  // Polling districts at or under each district (parents come before children: sum in reverse).
  const polling = new Map<string, number>();
  for (const d of [...districts].reverse())
    polling.set(
      d.id,
      (d.polling ? 1 : 0) + (children.get(d.id) ?? []).reduce((n, c) => n + polling.get(c.id)!, 0),
    );
  const figures = (f: ReportFigure) =>
    [
      ...contest.options.map((o) => `${o.title} ${f.counts[o.id] ?? 0}`),
      `${t.blank} ${f.blank}`,
      `${t.invalid} ${f.invalid}`,
    ].join(', ');
  const node = (d: DistrictResult): HTMLLIElement => {
    const li = el('li');
    const mine = d.contests[contest.id];
    if (d.polling) {
      li.append(el('span', d.name, 'district'));
      const reports = (
        [
          ['preliminary', mine?.preliminary],
          ['final', mine?.final],
        ] as const
      ).filter(([, f]) => f);
      if (reports.length === 0) li.append(' ', el('span', t.districtUnreported));
      for (const [stage, f] of reports) {
        const p = el('p', `${stage === 'final' ? t.finalHeader : t.preliminaryHeader}: ${figures(f!)} `);
        p.append(proveButton(f!.index));
        li.append(p);
      }
      // An encrypted election's e-votes here, once a quorum of guardians decrypted them, with their records.
      const e = mine?.eballots.decrypted;
      if (e?.records) {
        const votes = contest.options.map((o) => `${o.title} ${e.votes[o.id] ?? 0}`).join(', ');
        const p = el('p', `${t.evotesHeader}: ${votes} `);
        for (const index of e.records) p.append(proveButton(index), ' ');
        li.append(p);
      }
      return li;
    }
    const details = el('details');
    const reported = mine?.sums.counted.districts ?? 0;
    details.append(el('summary', t.districtReporting(d.name, reported, polling.get(d.id)!)));
    details.addEventListener(
      'toggle',
      () => {
        const ul = el('ul');
        ul.append(...(children.get(d.id) ?? []).map(node));
        details.append(ul);
      },
      { once: true },
    );
    li.append(details);
    return li;
  };
  const ul = el('ul', undefined, 'districts');
  ul.append(...(children.get(null) ?? []).map(node));
  return ul;
}
