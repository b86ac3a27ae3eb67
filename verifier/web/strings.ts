/**
 * Every text of the web page, in each language it speaks: one object per
 * language with the same keys (the type makes a missing one an error), so a
 * language is added here and nowhere else. Functions take what they show.
 */
import type { Reason } from '../verify.js';

export const LANGUAGES = ['sv', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

/** A sentence for each reason a verification fails (verifier/verify.ts Reason), given its details. */
type Reasons = { [C in Reason['code']]: (r: Extract<Reason, { code: C }>) => string };

const en = {
  languageName: 'English',
  title: 'Urna — check the election',
  skip: 'Skip to the content',
  nav: 'Sections',
  navBallot: 'My ballot',
  navLog: 'The log',
  language: 'Språk / Language',
  ballotHeading: 'Check that your ballot is in the log',
  ballotIntro:
    'Paste the ballot tracker your voting app showed you, or open the receipt file it saved. The check runs in this browser: it proves what it says from data signed by the log, whoever serves it.',
  trackerLabel: 'Ballot tracker',
  trackerHint: '64 characters, 0–9 and a–f',
  receiptLabel: 'Or open a receipt file',
  check: 'Check',
  checking: 'Checking…',
  badTracker: 'A ballot tracker is 64 characters, the digits 0–9 and the letters a–f.',
  resultIncluded: 'Your ballot is in the log, and it is the one that counts.',
  resultSuperseded: 'Your ballot is in the log, but a later ballot with the same credential counts instead.',
  resultOverridden: 'Your ballot is in the log, but you voted on paper, so your e-ballots do not count.',
  resultUnknown: 'Your ballot is in the log. Whether it counts, this source cannot say.',
  resultReceipt: (index: number) => `Your receipt proves that your ballot is entry ${index} of the log.`,
  notVerified: 'Not verified',
  provenHeading: 'Proven in this browser',
  claimedHeading: 'What the log says (not proven here; an audit proves it)',
  checkpointLine: (size: number, witnesses: string) =>
    `Under the log's signed checkpoint of ${size} entries${witnesses}.`,
  provenEntry: (index: number, size: number) =>
    `The ballot is entry ${index} of the log's tree of ${size} entries, and its signature is valid.`,
  provenLater: (index: number) =>
    `Entry ${index} is a later ballot with the same credential: that one counts.`,
  provenOverride: (index: number) => `Entry ${index} records that this credential voted on paper.`,
  claimedLast: 'It is the last ballot of its credential, so it is the one counted.',
  cosignedBy: (names: string) => `, cosigned by ${names}`,
  unreachable: (why: string) => `The log could not be reached: ${why}`,
  navResults: 'Results',
  resultsHeading: 'Results',
  resultsIntro:
    "The counter's count, replayed from the log. Every figure names the record it comes from; the button beside it proves that record is in the log.",
  noResults: 'No results are published here.',
  resultsAt: (title: string, phase: string, size: number) =>
    `${title}: ${phase}. Counted over the log's first ${size} entries.`,
  phaseNames: {
    setup: 'not yet open',
    open: 'voting is open',
    close: 'voting has closed',
    final: 'final',
  } as {
    [phase: string]: string;
  },
  reporting: (reported: number, of: number, share: string) =>
    `${reported} of ${of} polling districts reported (${share} of the electorate).`,
  provisional: 'Provisional: not every polling district has reported finally.',
  finalCount: 'Final: every polling district has reported finally.',
  optionHeader: 'Option',
  preliminaryHeader: 'Preliminary',
  finalHeader: 'Final',
  countedHeader: 'Counted',
  evotesHeader: 'E-votes',
  totalHeader: 'Total',
  seatsHeader: 'Seats',
  blank: 'Blank',
  invalid: 'Invalid',
  eballots: (n: number) => `E-ballots counted: ${n}.`,
  decrypted: (ballots: number, of: number, districts: number) =>
    `The guardians have decrypted ${ballots} of ${of} e-ballots, in ${districts} polling districts; the seats count them with the paper votes.`,
  discrepanciesHeading: 'Discrepancies',
  noDiscrepancies: 'None.',
  discrepancy: {
    differs: (d: string) => `${d}: the final count differs from the preliminary one beyond the margin.`,
    no_final: (d: string) => `${d}: no final report.`,
    unreported: (d: string) => `${d}: no report.`,
  } as { [kind: string]: (district: string) => string },
  prove: (index: number) => `Prove entry ${index}`,
  proven: (index: number, type: string, size: number) =>
    `Entry ${index} (a ${type} record) is in the log: proven under its checkpoint of ${size} entries.`,
  logHeading: 'The log',
  logIntro:
    'The latest checkpoint: the log signs the root of its tree every few seconds, and independent witnesses cosign it.',
  logSize: 'Entries',
  logRoot: 'Root',
  logWitnesses: 'Witnesses',
  logQuorum: 'Witness quorum',
  logAge: 'Newest cosignature',
  quorumMet: 'met',
  quorumNotMet: 'not met',
  noPolicy: 'no witness policy configured',
  none: 'none',
  secondsAgo: (s: number) => `${s} seconds ago`,
  refresh: 'Refresh',
  reasons: {
    not_signed: () => "This checkpoint is not signed by the log's key: it is not this log's.",
    no_quorum: (r) =>
      `The log's checkpoint of ${r.size} entries is not cosigned by enough independent witnesses${r.cosigned.length ? ` (only ${r.cosigned.join(', ')})` : ''}.`,
    bad_receipt: () =>
      'The receipt does not prove that this ballot is in the log: it was changed, or it is for another ballot or another log.',
    bad_tracker: () => 'A ballot tracker is 64 characters, the digits 0–9 and the letters a–f.',
    no_ballot: () =>
      'The log has no ballot with this tracker. Check that you copied it whole; a ballot cast moments ago shows within a few seconds.',
    spoiled: (r) =>
      `This ballot was spoiled to check your voting device (a Benaloh challenge): the log publishes how it was encrypted, at entry ${r.index}, and it is never counted. Cast a new ballot to vote.`,
    no_index: () =>
      'This copy of the log has no index of ballots, so a tracker alone cannot be looked up here: open your receipt file instead.',
    not_yet: (r) =>
      `Your ballot is entry ${r.index}, but the log's newest signed checkpoint has ${r.size} entries: try again in a few seconds.`,
    wrong_entry: (r) => `Entry ${r.index ?? '?'} of the log is not what the log's index says it is.`,
    index_lies: (r) =>
      `The log's index says something about entry ${r.index ?? '?'} that the entry itself disproves.`,
    stale: (r) =>
      `The log shows ${r.size} entries, fewer than the ${r.seen} of the checkpoint you have: it is out of date, or it has forked.`,
    forked: (r) =>
      `The log's checkpoint of ${r.size} entries does not extend the one of ${r.seen} entries you have: the log has shown two different histories. Keep the evidence and send it to the election authority and the observers.`,
    bad_tiles: () => "The source serves data that does not match the log's own signed checkpoint.",
    replay: () => 'Replaying the log found an entry or a checkpoint that is not valid.',
  } as Reasons,
  auditHeading: 'Audit the whole log',
  auditIntro:
    'Replays every entry of the log in this browser: every signature, every rule of the election, every tally recomputed and compared with the published one, and the root of the tree. It may take a while for a large log; the page stays usable.',
  auditStart: 'Start the audit',
  auditStop: 'Stop',
  auditProgress: (done: number, of: number, rate: number, eta: string) =>
    `${done} of ${of} entries replayed (${rate} per second; about ${eta} left).`,
  auditStopped: (done: number) => `Stopped after ${done} entries.`,
  auditVerified: (size: number) =>
    `Verified in this browser: the log's ${size} entries replay to its signed root; every signature, every rule and every tally record checks.`,
  auditElection: (
    title: string,
    phase: string,
    ballots: number,
    voters: number,
    overrides: number,
    reports: number,
    tallies: number,
  ) =>
    `${title}: ${phase}; ${ballots} e-ballots from ${voters} voters, ${overrides} paper-vote overrides, ${reports} reports, ${tallies} tally records.`,
  auditDiscrepancies: (n: number) => `${n} discrepancies (listed under Results).`,
  duration: (s: number) => (s < 90 ? `${Math.round(s)} seconds` : `${Math.round(s / 60)} minutes`),
  live: 'Update the results and the log automatically',
  technical: 'Technical detail',
  districtsHeading: 'By district',
  districtReporting: (name: string, reported: number, of: number) =>
    `${name}: ${reported} of ${of} polling districts reported`,
  districtUnreported: 'no report yet',
  downloadEvidence: 'Download the evidence',
  receiptConsistent: (size: number) =>
    `The log's latest checkpoint (${size} entries) extends the one your receipt was issued under: your ballot is still in the log.`,
  receiptNotCompared: (why: string) =>
    `Your receipt could not be compared with the log's latest checkpoint (${why}); it proves your ballot was in the log when it was issued.`,
  monitorsHeading: 'Monitors',
  monitorOk: (url: string, size: number | null) =>
    `${url}: no alarm${size === null ? '' : `; it has followed the log to ${size} entries`}.`,
  monitorStale: (url: string) =>
    `${url}: the witnesses' newest cosignature is too old (the log may be stuck, or hidden).`,
  monitorUnreachable: (url: string, why: string) => `${url} could not be reached: ${why}`,
  alarmProven: (url: string, a: number, b: number) =>
    `ALARM from ${url}: the log has signed two histories that do not extend one another (${a} and ${b} entries). Proven in this browser from the log's own signatures.`,
  alarmUnproven: (url: string, why: string) => `${url} reports an alarm that does not prove a fork: ${why}`,
};

const sv: typeof en = {
  languageName: 'Svenska',
  title: 'Urna — granska valet',
  skip: 'Hoppa till innehållet',
  nav: 'Avsnitt',
  navBallot: 'Min röst',
  navLog: 'Loggen',
  language: 'Språk / Language',
  ballotHeading: 'Kontrollera att din röst finns i loggen',
  ballotIntro:
    'Klistra in röstkvittots spårkod som röstappen visade, eller öppna kvittofilen den sparade. Kontrollen görs i den här webbläsaren: den bevisar det den visar med data som loggen har signerat, oavsett vem som levererar den.',
  trackerLabel: 'Spårkod',
  trackerHint: '64 tecken, 0–9 och a–f',
  receiptLabel: 'Eller öppna en kvittofil',
  check: 'Kontrollera',
  checking: 'Kontrollerar…',
  badTracker: 'En spårkod har 64 tecken: siffrorna 0–9 och bokstäverna a–f.',
  resultIncluded: 'Din röst finns i loggen, och det är den som räknas.',
  resultSuperseded: 'Din röst finns i loggen, men en senare röst med samma behörighet räknas i stället.',
  resultOverridden: 'Din röst finns i loggen, men du röstade på papper, så dina e-röster räknas inte.',
  resultUnknown: 'Din röst finns i loggen. Om den räknas kan den här källan inte säga.',
  resultReceipt: (index: number) => `Ditt kvitto bevisar att din röst är post ${index} i loggen.`,
  notVerified: 'Inte bekräftat',
  provenHeading: 'Bevisat i den här webbläsaren',
  claimedHeading: 'Vad loggen uppger (inte bevisat här; en granskning bevisar det)',
  checkpointLine: (size: number, witnesses: string) =>
    `Under loggens signerade kontrollpunkt med ${size} poster${witnesses}.`,
  provenEntry: (index: number, size: number) =>
    `Rösten är post ${index} i loggens träd med ${size} poster, och dess signatur är giltig.`,
  provenLater: (index: number) => `Post ${index} är en senare röst med samma behörighet: den räknas.`,
  provenOverride: (index: number) => `Post ${index} visar att den här behörigheten röstade på papper.`,
  claimedLast: 'Den är behörighetens sista röst, och därför den som räknas.',
  cosignedBy: (names: string) => `, medsignerad av ${names}`,
  unreachable: (why: string) => `Loggen gick inte att nå: ${why}`,
  navResults: 'Resultat',
  resultsHeading: 'Resultat',
  resultsIntro:
    'Räknarens sammanräkning, återuppspelad ur loggen. Varje siffra anger posten den kommer från; knappen bredvid bevisar att posten finns i loggen.',
  noResults: 'Inga resultat publiceras här.',
  resultsAt: (title: string, phase: string, size: number) =>
    `${title}: ${phase}. Räknat över loggens första ${size} poster.`,
  phaseNames: {
    setup: 'ännu inte öppnat',
    open: 'röstningen pågår',
    close: 'röstningen har stängt',
    final: 'slutligt',
  },
  reporting: (reported: number, of: number, share: string) =>
    `${reported} av ${of} valdistrikt har rapporterat (${share} av väljarna).`,
  provisional: 'Preliminärt: alla valdistrikt har inte slutrapporterat.',
  finalCount: 'Slutligt: alla valdistrikt har slutrapporterat.',
  optionHeader: 'Alternativ',
  preliminaryHeader: 'Preliminärt',
  finalHeader: 'Slutligt',
  countedHeader: 'Räknat',
  evotesHeader: 'E-röster',
  totalHeader: 'Totalt',
  seatsHeader: 'Mandat',
  blank: 'Blanka',
  invalid: 'Ogiltiga',
  eballots: (n: number) => `Räknade e-röster: ${n}.`,
  decrypted: (ballots: number, of: number, districts: number) =>
    `Väktarna har dekrypterat ${ballots} av ${of} e-röster, i ${districts} valdistrikt; mandaten räknas på dem tillsammans med pappersrösterna.`,
  discrepanciesHeading: 'Avvikelser',
  noDiscrepancies: 'Inga.',
  discrepancy: {
    differs: (d: string) =>
      `${d}: den slutliga räkningen skiljer sig från den preliminära mer än marginalen.`,
    no_final: (d: string) => `${d}: ingen slutrapport.`,
    unreported: (d: string) => `${d}: ingen rapport.`,
  },
  prove: (index: number) => `Bevisa post ${index}`,
  proven: (index: number, type: string, size: number) =>
    `Post ${index} (en ${type}-post) finns i loggen: bevisat under kontrollpunkten med ${size} poster.`,
  logHeading: 'Loggen',
  logIntro:
    'Den senaste kontrollpunkten: loggen signerar roten av sitt träd med några sekunders mellanrum, och oberoende vittnen medsignerar den.',
  logSize: 'Poster',
  logRoot: 'Rot',
  logWitnesses: 'Vittnen',
  logQuorum: 'Vittneskvorum',
  logAge: 'Senaste medsignering',
  quorumMet: 'uppfyllt',
  quorumNotMet: 'inte uppfyllt',
  noPolicy: 'ingen vittnespolicy angiven',
  none: 'inga',
  secondsAgo: (s: number) => `för ${s} sekunder sedan`,
  refresh: 'Uppdatera',
  reasons: {
    not_signed: () =>
      'Kontrollpunkten är inte signerad med loggens nyckel: den kommer inte från den här loggen.',
    no_quorum: (r) =>
      `Loggens kontrollpunkt med ${r.size} poster är inte medsignerad av tillräckligt många oberoende vittnen${r.cosigned.length ? ` (bara ${r.cosigned.join(', ')})` : ''}.`,
    bad_receipt: () =>
      'Kvittot bevisar inte att rösten finns i loggen: det har ändrats, eller gäller en annan röst eller en annan logg.',
    bad_tracker: () => 'En spårkod har 64 tecken: siffrorna 0–9 och bokstäverna a–f.',
    no_ballot: () =>
      'Loggen har ingen röst med den här spårkoden. Kontrollera att du kopierade hela koden; en röst som nyss lagts syns inom några sekunder.',
    spoiled: (r) =>
      `Den här rösten förstördes för att kontrollera din röstningsenhet (en Benaloh-utmaning): loggen visar hur den krypterades, i post ${r.index}, och den räknas aldrig. Lägg en ny röst för att rösta.`,
    no_index: () =>
      'Den här kopian av loggen har inget register över röster, så en spårkod kan inte slås upp här: öppna kvittofilen i stället.',
    not_yet: (r) =>
      `Din röst är post ${r.index}, men loggens senaste signerade kontrollpunkt har ${r.size} poster: försök igen om några sekunder.`,
    wrong_entry: (r) => `Post ${r.index ?? '?'} i loggen är inte det som loggens register säger.`,
    index_lies: (r) => `Loggens register säger något om post ${r.index ?? '?'} som posten själv motbevisar.`,
    stale: (r) =>
      `Loggen visar ${r.size} poster, färre än de ${r.seen} i kontrollpunkten du har: den är inaktuell, eller har förgrenats.`,
    forked: (r) =>
      `Loggens kontrollpunkt med ${r.size} poster bygger inte vidare på den med ${r.seen} poster som du har: loggen har visat två olika historier. Spara beviset och skicka det till valmyndigheten och valobservatörerna.`,
    bad_tiles: () => 'Källan levererar data som inte stämmer med loggens egen signerade kontrollpunkt.',
    replay: () => 'Uppspelningen av loggen hittade en post eller kontrollpunkt som inte är giltig.',
  },
  auditHeading: 'Granska hela loggen',
  auditIntro:
    'Spelar upp varje post i loggen i den här webbläsaren: varje signatur, varje regel för valet, varje sammanräkning räknas om och jämförs med den publicerade, och trädets rot. Det kan ta en stund för en stor logg; sidan går att använda under tiden.',
  auditStart: 'Starta granskningen',
  auditStop: 'Avbryt',
  auditProgress: (done: number, of: number, rate: number, eta: string) =>
    `${done} av ${of} poster uppspelade (${rate} per sekund; omkring ${eta} kvar).`,
  auditStopped: (done: number) => `Avbruten efter ${done} poster.`,
  auditVerified: (size: number) =>
    `Bekräftat i den här webbläsaren: loggens ${size} poster ger dess signerade rot; varje signatur, varje regel och varje sammanräkning stämmer.`,
  auditElection: (
    title: string,
    phase: string,
    ballots: number,
    voters: number,
    overrides: number,
    reports: number,
    tallies: number,
  ) =>
    `${title}: ${phase}; ${ballots} e-röster från ${voters} väljare, ${overrides} pappersröster som ersatt e-röster, ${reports} rapporter, ${tallies} sammanräkningar.`,
  auditDiscrepancies: (n: number) => `${n} avvikelser (listade under Resultat).`,
  duration: (s: number) => (s < 90 ? `${Math.round(s)} sekunder` : `${Math.round(s / 60)} minuter`),
  live: 'Uppdatera resultaten och loggen automatiskt',
  technical: 'Teknisk detalj',
  districtsHeading: 'Per område',
  districtReporting: (name: string, reported: number, of: number) =>
    `${name}: ${reported} av ${of} valdistrikt har rapporterat`,
  districtUnreported: 'ingen rapport ännu',
  downloadEvidence: 'Ladda ner beviset',
  receiptConsistent: (size: number) =>
    `Loggens senaste kontrollpunkt (${size} poster) bygger vidare på den som ditt kvitto utfärdades under: din röst finns kvar i loggen.`,
  receiptNotCompared: (why: string) =>
    `Kvittot kunde inte jämföras med loggens senaste kontrollpunkt (${why}); det bevisar att din röst fanns i loggen när kvittot utfärdades.`,
  monitorsHeading: 'Bevakare',
  monitorOk: (url: string, size: number | null) =>
    `${url}: inget larm${size === null ? '' : `; den har följt loggen till ${size} poster`}.`,
  monitorStale: (url: string) =>
    `${url}: vittnenas senaste medsignering är för gammal (loggen kan ha stannat, eller döljas).`,
  monitorUnreachable: (url: string, why: string) => `${url} gick inte att nå: ${why}`,
  alarmProven: (url: string, a: number, b: number) =>
    `LARM från ${url}: loggen har signerat två historier som inte bygger vidare på varandra (${a} och ${b} poster). Bevisat i den här webbläsaren med loggens egna signaturer.`,
  alarmUnproven: (url: string, why: string) =>
    `${url} rapporterar ett larm som inte bevisar en förgrening: ${why}`,
};

export const STRINGS: { [L in Language]: typeof en } = { sv, en };
export type Strings = typeof en;
