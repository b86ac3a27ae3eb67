/**
 * Every text of the web page, in each language it speaks: one object per
 * language with the same keys (the type makes a missing one an error), so a
 * language is added here and nowhere else. Functions take what they show.
 */
export const LANGUAGES = ['sv', 'en'] as const;
export type Language = (typeof LANGUAGES)[number];

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
  seatsHeader: 'Seats',
  blank: 'Blank',
  invalid: 'Invalid',
  eballots: (n: number) => `E-ballots counted: ${n}.`,
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
  seatsHeader: 'Mandat',
  blank: 'Blanka',
  invalid: 'Ogiltiga',
  eballots: (n: number) => `Räknade e-röster: ${n}.`,
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
};

export const STRINGS: { [L in Language]: typeof en } = { sv, en };
export type Strings = typeof en;
