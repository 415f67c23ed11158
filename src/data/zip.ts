/**
 * A small ZIP reader: the central directory and local headers of a whole
 * archive held in memory; entries stored (method 0) or deflated (method 8);
 * CRC-32 checked. ZIP64, encryption and other methods are refused by name.
 */
import * as zlib from "node:zlib";

/** One file in an archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflated; anything else is refused on extraction. */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;

const CRC_TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, the one ZIP uses) of some bytes, as an unsigned 32-bit number. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An archive that cannot be read; the message names the archive (and the entry). */
export class ZipError extends Error {
  constructor(archive: string, problem: string) {
    super(`${archive}: ${problem}`);
    this.name = "ZipError";
  }
}

/** Lists the entries of a ZIP archive from its central directory. */
export function readZipEntries(buf: Buffer, archive = "archive"): ZipEntry[] {
  const eocd = findEndOfCentralDirectory(buf);
  if (eocd < 0) throw new ZipError(archive, "no end-of-central-directory record: the archive is truncated or not a ZIP file");
  if (eocd >= 20 && buf.readUInt32LE(eocd - 20) === ZIP64_LOCATOR_SIG) throw new ZipError(archive, "ZIP64 archives are not supported");
  const count = buf.readUInt16LE(eocd + 10);
  const cdSize = buf.readUInt32LE(eocd + 12);
  const cdOffset = buf.readUInt32LE(eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) throw new ZipError(archive, "ZIP64 archives are not supported");
  if (cdOffset + cdSize > eocd) throw new ZipError(archive, `central directory (offset ${cdOffset}, ${cdSize} bytes) runs past its end record: the archive is truncated`);
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > eocd || buf.readUInt32LE(p) !== CENTRAL_SIG) throw new ZipError(archive, `central directory entry ${i + 1} of ${count} is missing or damaged at offset ${p}`);
    const nameLen = buf.readUInt16LE(p + 28);
    const extraLen = buf.readUInt16LE(p + 30);
    const commentLen = buf.readUInt16LE(p + 32);
    entries.push({
      flags: buf.readUInt16LE(p + 8),
      method: buf.readUInt16LE(p + 10),
      crc32: buf.readUInt32LE(p + 16),
      compressedSize: buf.readUInt32LE(p + 20),
      size: buf.readUInt32LE(p + 24),
      localHeaderOffset: buf.readUInt32LE(p + 42),
      name: buf.toString("utf8", p + 46, p + 46 + nameLen),
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Returns an entry's uncompressed bytes after checking its size and CRC-32. */
export function extractZipEntry(buf: Buffer, entry: ZipEntry, archive = "archive"): Buffer {
  const where = `entry '${entry.name}'`;
  if (entry.flags & 1) throw new ZipError(archive, `${where} is encrypted; encrypted entries are not supported`);
  if (entry.compressedSize === 0xffffffff || entry.size === 0xffffffff || entry.localHeaderOffset === 0xffffffff) {
    throw new ZipError(archive, `${where} uses ZIP64 sizes; ZIP64 is not supported`);
  }
  if (entry.method !== 0 && entry.method !== 8) throw new ZipError(archive, `${where} uses compression method ${entry.method}; only 0 (stored) and 8 (deflated) are supported`);
  const h = entry.localHeaderOffset;
  if (h + 30 > buf.length || buf.readUInt32LE(h) !== LOCAL_SIG) throw new ZipError(archive, `${where}: no local header at offset ${h}: the archive is truncated or damaged`);
  const start = h + 30 + buf.readUInt16LE(h + 26) + buf.readUInt16LE(h + 28);
  const end = start + entry.compressedSize;
  if (end > buf.length) throw new ZipError(archive, `${where}: data runs past the end of the archive: the archive is truncated`);
  const raw = buf.subarray(start, end);
  let data: Buffer;
  try {
    data = entry.method === 0 ? Buffer.from(raw) : zlib.inflateRawSync(raw);
  } catch (err) {
    throw new ZipError(archive, `${where}: cannot inflate (${(err as Error).message})`);
  }
  if (data.length !== entry.size) throw new ZipError(archive, `${where}: ${data.length} bytes after extraction, the directory says ${entry.size}`);
  const crc = crc32(data);
  if (crc !== entry.crc32) throw new ZipError(archive, `${where}: CRC-32 ${hex8(crc)} does not match the directory's ${hex8(entry.crc32)}`);
  return data;
}

function findEndOfCentralDirectory(buf: Buffer): number {
  const lowest = Math.max(0, buf.length - 22 - 0xffff);
  for (let p = buf.length - 22; p >= lowest; p--) {
    if (buf.readUInt32LE(p) === EOCD_SIG && p + 22 + buf.readUInt16LE(p + 20) <= buf.length) return p;
  }
  return -1;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}
