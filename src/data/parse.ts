/**
 * One-pass reading of tab-separated integer files over their bytes (no regular
 * expression, no split per line). Every problem becomes a DataError naming the
 * file, the 1-based line and the field. Tolerated: CRLF line ends, a missing
 * final newline, blank lines at the end. Not tolerated: blank lines in between.
 */
import { DataError } from "../util/errors";

/** One integer column: its name (user, item, rating, flag, timestamp) and its inclusive range. */
export interface FieldSpec {
  readonly name: string;
  readonly min: number;
  readonly max: number;
  /** Where the range comes from, appended to out-of-range errors (e.g. "T-CE's yelp id space"). */
  readonly why?: string;
}

/** The largest id a loader accepts when the source gives no range: dense ids must fit an Int32Array. */
export const MAX_ID = 2147483646;

/** A field spec for an id column with an optional known id-space size. */
export function idField(name: string, min: number, space?: number, why?: string): FieldSpec {
  return space === undefined ? { name, min, max: MAX_ID } : { name, min, max: space - 1, why };
}

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const MINUS = 45;
const ZERO = 48;
const NINE = 57;
const MAX_DIGITS = 15; // below 2^53: every such integer is exact in a double

/** Walks a file's bytes line by line; parses integer fields from the current line. */
export class LineReader {
  readonly file: string;
  /** 1-based number of the current line. */
  line = 0;
  /** Next unread byte of the current line, and the line's end (CR/LF excluded). */
  pos = 0;
  end = 0;
  private readonly buf: Uint8Array;
  private start = 0;
  private nextStart = 0;
  /** Whether the last field read ended at a tab (another column follows). */
  private more = true;

  constructor(buf: Uint8Array, file: string) {
    this.buf = buf;
    this.file = file;
  }

  /** Moves to the next line; false at the end of the data (trailing blank lines included). */
  nextLine(): boolean {
    const buf = this.buf;
    const n = buf.length;
    if (this.nextStart >= n) return false;
    const start = this.nextStart;
    const lf = buf.indexOf(LF, start);
    const stop = lf === -1 ? n : lf;
    this.nextStart = stop + 1;
    this.end = stop > start && buf[stop - 1] === CR ? stop - 1 : stop;
    this.pos = start;
    this.start = start;
    this.more = true;
    this.line++;
    if (this.end === start || isBlankByte(buf[start])) {
      if (isBlank(buf, start, this.end)) {
        if (isBlank(buf, this.nextStart, n)) {
          this.nextStart = n;
          return false;
        }
        throw new DataError({ file: this.file, line: this.line }, "empty line between data lines");
      }
    }
    return true;
  }

  /** The byte at the read position, or -1 at the end of the line. */
  peek(): number {
    return this.pos < this.end ? this.buf[this.pos] : -1;
  }

  /** Skips spaces at the read position. */
  skipSpaces(): void {
    while (this.pos < this.end && this.buf[this.pos] === SPACE) this.pos++;
  }

  /** Consumes the given byte or throws, describing what was expected. */
  expect(byte: number, field: string, what: string): void {
    if (this.pos < this.end && this.buf[this.pos] === byte) {
      this.pos++;
      return;
    }
    throw this.error(field, `expected ${what}, found '${this.text(this.pos, Math.min(this.end, this.pos + 20))}'`);
  }

  /** Ignores the rest of the line. */
  skipRest(): void {
    this.pos = this.end;
    this.more = false;
  }

  /**
   * Parses the next integer field; it ends at a tab or at the line's end, or, with
   * stopAt, at that byte (used inside T-CE's "(u, i)" tuples). `names` are the
   * line's expected columns, for column-count messages.
   */
  int(spec: FieldSpec, names: readonly string[], stopAt = -1): number {
    if (!this.more) throw this.columnError(spec.name, names);
    const buf = this.buf;
    const s = this.pos;
    let i = s;
    let v = 0;
    let c = -1;
    while (i < this.end) {
      c = buf[i];
      if (c < ZERO || c > NINE) break;
      v = v * 10 + (c - ZERO);
      i++;
    }
    const ended = i === this.end || c === TAB || c === stopAt;
    if (!ended || i === s) this.badNumber(spec, s, stopAt);
    if (i - s > MAX_DIGITS) throw this.error(spec.name, `${spec.name} ${this.text(s, i)} is outside [${spec.min}, ${spec.max}]${why(spec)}`);
    if (i < this.end && buf[i] === TAB) {
      this.pos = i + 1;
      this.more = true;
    } else {
      this.pos = i;
      this.more = i < this.end; // stopped at stopAt: the caller continues on this line
    }
    if (v < spec.min || v > spec.max) {
      throw this.error(spec.name, `${spec.name} ${v} is outside [${spec.min}, ${spec.max}]${why(spec)}`);
    }
    return v;
  }

  /** Throws unless the line ends here (no extra columns). */
  endOfLine(names: readonly string[]): void {
    if (this.more || this.pos < this.end) throw this.columnError(names[names.length - 1], names);
  }

  /** Number of tab-separated columns of the current line. */
  columnCount(): number {
    let c = 1;
    for (let i = this.start; i < this.end; i++) if (this.buf[i] === TAB) c++;
    return c;
  }

  /** A DataError at the current line for the given field. */
  error(field: string, problem: string): DataError {
    return new DataError({ file: this.file, line: this.line, field }, problem);
  }

  private columnError(field: string, names: readonly string[]): DataError {
    return this.error(
      field,
      `expected ${names.length} tab-separated columns (${names.join(", ")}), found ${this.columnCount()}`,
    );
  }

  private badNumber(spec: FieldSpec, s: number, stopAt: number): never {
    let e = s;
    while (e < this.end && this.buf[e] !== TAB && this.buf[e] !== stopAt) e++;
    const token = this.text(s, e);
    if (e === s) throw this.error(spec.name, `empty ${spec.name} field`);
    if (this.buf[s] === MINUS && isDigits(this.buf, s + 1, e)) throw this.error(spec.name, `negative ${spec.name}: ${token}`);
    throw this.error(spec.name, `${spec.name} is not a non-negative integer: '${token}'`);
  }

  private text(s: number, e: number): string {
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + s, e - s).toString("latin1");
  }
}

/** A file read into columns: row r comes from line r + 1. */
export interface Table {
  readonly file: string;
  readonly rows: number;
  readonly columns: Float64Array[];
}

/** Parses a file with exactly the given integer columns per line; an empty file is an error. */
export function parseTable(buf: Uint8Array, file: string, fields: readonly FieldSpec[]): Table {
  const names = fields.map((f) => f.name);
  const cap = countLines(buf);
  const columns = fields.map(() => new Float64Array(cap));
  const r = new LineReader(buf, file);
  let rows = 0;
  while (r.nextLine()) {
    for (let j = 0; j < fields.length; j++) columns[j][rows] = r.int(fields[j], names);
    r.endOfLine(names);
    rows++;
  }
  if (rows === 0) throw emptyFile(file);
  return { file, rows, columns: columns.map((c) => c.subarray(0, rows)) };
}

/** The error for a file without data lines. */
export function emptyFile(file: string): DataError {
  return new DataError({ file }, "empty file: no data lines");
}

/** An upper bound on the number of lines (LF count + 1). */
export function countLines(buf: Uint8Array): number {
  let n = 1;
  let i = buf.indexOf(LF);
  while (i !== -1) {
    n++;
    i = buf.indexOf(LF, i + 1);
  }
  return n;
}

function isBlankByte(c: number): boolean {
  return c === SPACE || c === TAB || c === CR || c === LF;
}

function isBlank(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (!isBlankByte(buf[i])) return false;
  return true;
}

function isDigits(buf: Uint8Array, s: number, e: number): boolean {
  if (e <= s) return false;
  for (let i = s; i < e; i++) if (buf[i] < ZERO || buf[i] > NINE) return false;
  return true;
}

function why(spec: FieldSpec): string {
  return spec.why === undefined ? "" : ` (${spec.why})`;
}
