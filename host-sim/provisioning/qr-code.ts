// A small QR code encoder (ISO/IEC 18004: byte mode, error correction level L, versions 1–10,
// mask 0) to draw the provisioning payload in the terminal, as Espressif's examples print it.
// Versions 1–10 at level L hold up to 271 bytes: far more than the provisioning JSON needs.

const ECC_PER_BLOCK = [0, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18];
const BLOCKS = [0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4];

function rawCodewords(ver: number): number {
  let bits = (16 * ver + 128) * ver + 64;
  if (ver >= 2) {
    const n = Math.floor(ver / 7) + 2;
    bits -= (25 * n - 10) * n - 55;
    if (ver >= 7) bits -= 36;
  }
  return Math.floor(bits / 8);
}

const dataCodewords = (ver: number): number => rawCodewords(ver) - ECC_PER_BLOCK[ver]! * BLOCKS[ver]!;

// GF(256), primitive polynomial 0x11D
const EXP = new Uint8Array(512);
const LOG = new Uint8Array(256);
{
  let x = 1;
  for (let i = 0; i < 255; i++) {
    EXP[i] = x;
    LOG[x] = i;
    x <<= 1;
    if (x & 0x100) x ^= 0x11d;
  }
  for (let i = 255; i < 512; i++) EXP[i] = EXP[i - 255]!;
}
const gmul = (a: number, b: number): number => (a === 0 || b === 0 ? 0 : EXP[LOG[a]! + LOG[b]!]!);

function rsRemainder(data: readonly number[], degree: number): number[] {
  // generator: prod (x − α^i), i < degree; coefficients highest first, leading 1 dropped
  let gen = [1];
  for (let i = 0; i < degree; i++) {
    const next = new Array<number>(gen.length + 1).fill(0);
    for (let j = 0; j < gen.length; j++) {
      next[j]! ^= gen[j]!;
      next[j + 1]! ^= gmul(gen[j]!, EXP[i]!);
    }
    gen = next;
  }
  const rem = new Array<number>(degree).fill(0);
  for (const b of data) {
    const factor = b ^ rem.shift()!;
    rem.push(0);
    for (let j = 0; j < degree; j++) rem[j]! ^= gmul(gen[j + 1]!, factor);
  }
  return rem;
}

function alignmentPositions(ver: number, size: number): number[] {
  if (ver === 1) return [];
  const n = Math.floor(ver / 7) + 2;
  const step = Math.ceil((ver * 4 + 4) / (n * 2 - 2)) * 2;
  const out = [6];
  for (let pos = size - 7; out.length < n; pos -= step) out.splice(1, 0, pos);
  return out;
}

/** The module matrix (true = dark), without the quiet zone. */
export function encodeQr(bytes: Uint8Array): boolean[][] {
  let ver = 1;
  while (ver <= 10 && 4 + (ver < 10 ? 8 : 16) + 8 * bytes.length > dataCodewords(ver) * 8) ver++;
  if (ver > 10) throw new RangeError("payload too long for a version 1–10 QR code");
  // bit stream: byte mode, count, data, terminator, padding
  const bits: number[] = [];
  const put = (value: number, n: number): void => {
    for (let i = n - 1; i >= 0; i--) bits.push((value >>> i) & 1);
  };
  put(0b0100, 4);
  put(bytes.length, ver < 10 ? 8 : 16);
  for (const b of bytes) put(b, 8);
  const capacity = dataCodewords(ver) * 8;
  put(0, Math.min(4, capacity - bits.length));
  while (bits.length % 8) bits.push(0);
  const data: number[] = [];
  for (let i = 0; i < bits.length; i += 8) data.push(bits.slice(i, i + 8).reduce((a, b) => (a << 1) | b, 0));
  for (let pad = 0xec; data.length < dataCodewords(ver); pad ^= 0xec ^ 0x11) data.push(pad);
  // blocks, EC, interleave
  const nBlocks = BLOCKS[ver]!;
  const ecLen = ECC_PER_BLOCK[ver]!;
  const shortLen = Math.floor(data.length / nBlocks);
  const longCount = data.length % nBlocks;
  const blocks: number[][] = [];
  for (let b = 0, at = 0; b < nBlocks; b++) {
    const len = shortLen + (b >= nBlocks - longCount ? 1 : 0);
    blocks.push(data.slice(at, at + len));
    at += len;
  }
  const ecs = blocks.map((b) => rsRemainder(b, ecLen));
  const codewords: number[] = [];
  for (let i = 0; i <= shortLen; i++) for (const b of blocks) if (i < b.length) codewords.push(b[i]!);
  for (let i = 0; i < ecLen; i++) for (const e of ecs) codewords.push(e[i]!);

  const size = ver * 4 + 17;
  const m: boolean[][] = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const fn: boolean[][] = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  const set = (x: number, y: number, dark: boolean): void => {
    m[y]![x] = dark;
    fn[y]![x] = true;
  };
  for (let i = 0; i < size; i++) {
    set(6, i, i % 2 === 0);
    set(i, 6, i % 2 === 0);
  }
  for (const [cx, cy] of [[3, 3], [size - 4, 3], [3, size - 4]] as const) {
    for (let dy = -4; dy <= 4; dy++) for (let dx = -4; dx <= 4; dx++) {
      const x = cx + dx, y = cy + dy;
      if (x < 0 || y < 0 || x >= size || y >= size) continue;
      const d = Math.max(Math.abs(dx), Math.abs(dy));
      set(x, y, d !== 2 && d !== 4);
    }
  }
  const al = alignmentPositions(ver, size);
  for (let i = 0; i < al.length; i++) for (let j = 0; j < al.length; j++) {
    if ((i === 0 && j === 0) || (i === 0 && j === al.length - 1) || (i === al.length - 1 && j === 0)) continue;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) set(al[i]! + dx, al[j]! + dy, Math.max(Math.abs(dx), Math.abs(dy)) !== 1);
  }
  // format information: level L (01), mask 0
  const formatData = (0b01 << 3) | 0;
  let rem = formatData;
  for (let i = 0; i < 10; i++) rem = (rem << 1) ^ ((rem >>> 9) * 0x537);
  const format = ((formatData << 10) | rem) ^ 0x5412;
  const fb = (i: number): boolean => ((format >>> i) & 1) !== 0;
  for (let i = 0; i <= 5; i++) set(8, i, fb(i));
  set(8, 7, fb(6));
  set(8, 8, fb(7));
  set(7, 8, fb(8));
  for (let i = 9; i < 15; i++) set(14 - i, 8, fb(i));
  for (let i = 0; i < 8; i++) set(size - 1 - i, 8, fb(i));
  for (let i = 8; i < 15; i++) set(8, size - 15 + i, fb(i));
  set(8, size - 8, true); // the dark module
  if (ver >= 7) {
    let r = ver;
    for (let i = 0; i < 12; i++) r = (r << 1) ^ ((r >>> 11) * 0x1f25);
    const v = (ver << 12) | r;
    for (let i = 0; i < 18; i++) {
      const dark = ((v >>> i) & 1) !== 0;
      const a = size - 11 + (i % 3), b = Math.floor(i / 3);
      set(a, b, dark);
      set(b, a, dark);
    }
  }
  // data, zigzag from the bottom right, with mask 0 ((x + y) % 2 == 0 → invert)
  let i = 0;
  for (let right = size - 1; right >= 1; right -= 2) {
    if (right === 6) right = 5;
    for (let vert = 0; vert < size; vert++) {
      for (let j = 0; j < 2; j++) {
        const x = right - j;
        const upward = ((right + 1) & 2) === 0;
        const y = upward ? size - 1 - vert : vert;
        if (fn[y]![x]) continue;
        let dark = false;
        if (i < codewords.length * 8) {
          dark = ((codewords[i >>> 3]! >>> (7 - (i & 7))) & 1) !== 0;
          i++;
        }
        m[y]![x] = dark !== ((x + y) % 2 === 0);
      }
    }
  }
  return m;
}

/** Two module rows per text line with half blocks, light on dark terminals, with a quiet zone. */
export function renderQr(text: string): string {
  const m = encodeQr(new TextEncoder().encode(text));
  const quiet = 2;
  const size = m.length + quiet * 2;
  const dark = (x: number, y: number): boolean => {
    const mx = x - quiet, my = y - quiet;
    return mx >= 0 && my >= 0 && mx < m.length && my < m.length && m[my]![mx]!;
  };
  const lines: string[] = [];
  for (let y = 0; y < size; y += 2) {
    let line = "";
    for (let x = 0; x < size; x++) {
      const top = !dark(x, y), bottom = y + 1 < size ? !dark(x, y + 1) : false; // true = light
      line += top && bottom ? "█" : top ? "▀" : bottom ? "▄" : " ";
    }
    lines.push(line);
  }
  return lines.join("\n");
}
