/**
 * Keccak-256 as a tiny WebAssembly module generated here at load time (no binary in the repo, no
 * dependency). Why not the `keccak` native addon: each hash through it costs four N-API calls and a
 * buffer allocation (~1.6 µs of fixed cost, ~4.5 µs for the 416-byte struct plus the digest), which alone
 * would break the verifier's budget of ~4 µs per transfer beside the ~60 µs secp256k1 recovery. Here a
 * hash is one call on bytes already in the module's memory: the hot path decodes straight into it.
 *
 * The module exports `memory` and `hash(in, blocks, out)`: it absorbs `blocks` full 136-byte blocks at
 * `in` (the caller writes the keccak padding) and writes the 32-byte digest at `out`.
 */

const RATE = 136;

/** Keccak-f[1600] round constants and rotation offsets, derived as in the specification. */
function keccakConstants(): { rc: bigint[]; rot: number[] } {
  const rc: bigint[] = [];
  let lfsr = 1;
  for (let round = 0; round < 24; round++) {
    let c = 0n;
    for (let j = 0; j < 7; j++) {
      if (lfsr & 1) c ^= 1n << BigInt((1 << j) - 1);
      lfsr = lfsr & 0x80 ? ((lfsr << 1) ^ 0x71) & 0xff : (lfsr << 1) & 0xff;
    }
    rc.push(c);
  }
  const rot = new Array<number>(25).fill(0);
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    rot[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  return { rc, rot };
}

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb64(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const b = Number(v & 0x7fn);
    v >>= 7n;
    const signBit = (b & 0x40) !== 0;
    if ((v === 0n && !signBit) || (v === -1n && signBit)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
}

function toSigned64(v: bigint): bigint {
  return v >= 1n << 63n ? v - (1n << 64n) : v;
}

const OP = {
  block: 0x02,
  loop: 0x03,
  br: 0x0c,
  brIf: 0x0d,
  end: 0x0b,
  localGet: 0x20,
  localSet: 0x21,
  i64Load: 0x29,
  i64Store: 0x37,
  i32Const: 0x41,
  i64Const: 0x42,
  i32Eqz: 0x45,
  i32LtU: 0x49,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Shl: 0x74,
  i64And: 0x83,
  i64Xor: 0x85,
  i64Rotl: 0x89,
} as const;

/** Memory offset of the round-constant table inside the module's memory. */
export const RC_OFFSET = 0;

/** Builds the WebAssembly binary. */
export function buildKeccakModule(): Uint8Array {
  const { rot } = keccakConstants();
  // Locals: params 0 in, 1 blocks, 2 out; 3..27 state A; 28..52 B; 53..57 C; 58..62 D; 63 round (i32).
  const A = (i: number): number => 3 + i;
  const B = (i: number): number => 28 + i;
  const C = (i: number): number => 53 + i;
  const D = (i: number): number => 58 + i;
  const ROUND = 63;
  const code: number[] = [];
  const get = (l: number): void => void code.push(OP.localGet, ...uleb(l));
  const set = (l: number): void => void code.push(OP.localSet, ...uleb(l));

  code.push(OP.block, 0x40, OP.loop, 0x40);
  // if blocks == 0: exit
  get(1);
  code.push(OP.i32Eqz, OP.brIf, 1);
  // absorb 17 lanes
  for (let i = 0; i < RATE / 8; i++) {
    get(A(i));
    get(0);
    code.push(OP.i64Load, 0, ...uleb(8 * i), OP.i64Xor);
    set(A(i));
  }
  // 24 rounds in a loop: an unrolled body measured ~60% slower (register spills, code size).
  code.push(OP.i32Const, 0);
  set(ROUND);
  code.push(OP.loop, 0x40);
  // theta
  for (let x = 0; x < 5; x++) {
    get(A(x));
    for (let y = 1; y < 5; y++) {
      get(A(x + 5 * y));
      code.push(OP.i64Xor);
    }
    set(C(x));
  }
  for (let x = 0; x < 5; x++) {
    get(C((x + 4) % 5));
    get(C((x + 1) % 5));
    code.push(OP.i64Const, 1, OP.i64Rotl, OP.i64Xor);
    set(D(x));
  }
  for (let i = 0; i < 25; i++) {
    get(A(i));
    get(D(i % 5));
    code.push(OP.i64Xor);
    set(A(i));
  }
  // rho and pi: B[y, 2x + 3y] = rotl(A[x, y], rot[x, y])
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      get(A(x + 5 * y));
      if (rot[x + 5 * y] !== 0) code.push(OP.i64Const, ...sleb64(BigInt(rot[x + 5 * y])), OP.i64Rotl);
      set(B(y + 5 * ((2 * x + 3 * y) % 5)));
    }
  }
  // chi: A[x, y] = B[x, y] ^ (~B[x+1, y] & B[x+2, y])
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      get(B(x + 5 * y));
      get(B(((x + 1) % 5) + 5 * y));
      code.push(OP.i64Const, ...sleb64(-1n), OP.i64Xor);
      get(B(((x + 2) % 5) + 5 * y));
      code.push(OP.i64And, OP.i64Xor);
      set(A(x + 5 * y));
    }
  }
  // iota: A[0] ^= RC[round]
  get(A(0));
  get(ROUND);
  code.push(OP.i32Const, 3, OP.i32Shl, OP.i64Load, 0, ...uleb(RC_OFFSET), OP.i64Xor);
  set(A(0));
  // round += 1; loop while round < 24
  get(ROUND);
  code.push(OP.i32Const, 1, OP.i32Add);
  set(ROUND);
  get(ROUND);
  code.push(OP.i32Const, 24, OP.i32LtU, OP.brIf, 0, OP.end);
  // in += 136; blocks -= 1; continue
  get(0);
  code.push(OP.i32Const, ...sleb64(BigInt(RATE)), OP.i32Add);
  set(0);
  get(1);
  code.push(OP.i32Const, 1, OP.i32Sub);
  set(1);
  code.push(OP.br, 0, OP.end, OP.end);
  // squeeze: 4 lanes to out
  for (let i = 0; i < 4; i++) {
    get(2);
    get(A(i));
    code.push(OP.i64Store, 0, ...uleb(8 * i));
  }
  code.push(OP.end);

  const locals = [2, ...uleb(60), 0x7e, 1, 0x7f];
  const body = [...locals, ...code];
  const funcBody = [...uleb(body.length), ...body];

  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const str = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
  const bytes = [
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [1, 0x60, 3, 0x7f, 0x7f, 0x7f, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...str("memory"), 0x02, 0, ...str("hash"), 0x00, 0]),
    ...section(10, [1, ...funcBody]),
  ];
  return Uint8Array.from(bytes);
}

/** The slice of the WebAssembly JS API used here (the project's `lib` has no DOM typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A keccak-256 engine over one WebAssembly instance and its 64 KiB memory. */
export class KeccakWasm {
  /** The module's memory as bytes; regions above `SCRATCH_OFFSET` are free for callers to lay out. */
  readonly memory: Uint8Array;
  private readonly hashFn: (input: number, blocks: number, out: number) => void;

  /** Where `keccak256` stages inputs; callers lay out their own areas between 256 and this. */
  static readonly SCRATCH_OFFSET = 4096;
  static readonly SCRATCH_SIZE = 65536 - 4096 - 64;

  constructor() {
    const module = new WA.Module(buildKeccakModule());
    const instance = new WA.Instance(module, {});
    // Not named `exports`: under CommonJS that would shadow the module's own exports object.
    const wasm = instance.exports as {
      memory: { buffer: ArrayBuffer };
      hash: (a: number, b: number, c: number) => void;
    };
    this.memory = new Uint8Array(wasm.memory.buffer);
    this.hashFn = wasm.hash;
    const view = new DataView(wasm.memory.buffer);
    keccakConstants().rc.forEach((c, i) => view.setBigInt64(RC_OFFSET + 8 * i, toSigned64(c), true));
  }

  /**
   * Hashes `blocks` full blocks already padded in memory at `input`; writes 32 bytes at `out`.
   * Padding of a message of n bytes: byte n ^= 0x01, last byte of the last block ^= 0x80, zeros between.
   */
  hashBlocks(input: number, blocks: number, out: number): void {
    this.hashFn(input, blocks, out);
  }

  /** keccak256 of arbitrary bytes (up to ~60 KiB), copied to the scratch area. */
  keccak256(data: Uint8Array): Uint8Array {
    const blocks = Math.floor(data.length / RATE) + 1;
    const size = blocks * RATE;
    if (size + 32 > KeccakWasm.SCRATCH_SIZE)
      throw new RangeError("input too large for the wasm keccak scratch area");
    const at = KeccakWasm.SCRATCH_OFFSET;
    const m = this.memory;
    m.set(data, at);
    m.fill(0, at + data.length, at + size);
    m[at + data.length] ^= 0x01;
    m[at + size - 1] ^= 0x80;
    const out = at + size;
    this.hashFn(at, blocks, out);
    return m.slice(out, out + 32);
  }
}

/** Writes keccak padding for a message of `length` bytes into a region of `blocks` blocks at `at`. */
export function writeKeccakPadding(memory: Uint8Array, at: number, length: number): number {
  const blocks = Math.floor(length / RATE) + 1;
  memory.fill(0, at + length, at + blocks * RATE);
  memory[at + length] ^= 0x01;
  memory[at + blocks * RATE - 1] ^= 0x80;
  return blocks;
}

export const KECCAK_RATE = RATE;
