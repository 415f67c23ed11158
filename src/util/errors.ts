/** Where in an input file something is wrong: file, 1-based line and field name. */
export interface InputLocation {
  file: string;
  line?: number;
  field?: string;
}

/** An input file that cannot be used as it is. The message names file, line and field. */
export class DataError extends Error {
  readonly location: InputLocation;

  constructor(location: InputLocation, problem: string) {
    super(`${formatLocation(location)}: ${problem}`);
    this.name = "DataError";
    this.location = location;
  }
}

/** A problem the protocol resolves by dropping rows; counted, reported, never silent. */
export interface DataWarning {
  kind: string;
  count: number;
  /** The first place it happened, for the reader to look at. */
  first: InputLocation;
  message: string;
}

export function formatLocation(loc: InputLocation): string {
  let s = loc.file;
  if (loc.line !== undefined) s += `:${loc.line}`;
  if (loc.field !== undefined) s += ` (field '${loc.field}')`;
  return s;
}
