/** How a benchmark reports a figure: a name, a value, its unit, and a note (the ceiling or goal it compares to). */
export type Report = (name: string, value: number, unit: string, note?: string) => void;
