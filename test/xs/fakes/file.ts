// Fake "file" with the rules of the SDK's lin build (modules/files/file/lin/modFile.c), the only
// build that links it here (the desktop simulator's key store): new File(path) on a missing file →
// "file not found"; new File(path, true) opens an existing file without truncating it ("rb+") or
// creates it; read(ArrayBuffer) reads the rest, and at or past the end throws "read past end of
// file" (so an empty file cannot be read); write() takes strings and ArrayBuffers (a typed array is
// not an ArrayBuffer there); use after close → "closed"; rename's target is absolute or a name in
// the source's folder; delete and rename answer booleans. world.files holds the bytes;
// world.fileWritesLeft, when set, is how many more write() calls succeed before one writes half its
// bytes and throws "file write failed" (a full disk, or a power cut mid-write).
import { utf8 } from "../../../src/bytes/bytes.js";
import { world } from "./world.js";

export class File {
  #path: string | undefined;
  #position = 0;

  constructor(path: string, write?: boolean) {
    if (typeof path !== "string") throw new TypeError("path must be a string");
    if (!world.files.has(path)) {
      if (write !== true) throw new Error("file not found");
      world.files.set(path, new Uint8Array(0));
    }
    this.#path = path;
  }

  #open(): string {
    if (this.#path === undefined) throw new Error("closed");
    return this.#path;
  }

  read(type: typeof ArrayBuffer, bytes?: number): ArrayBuffer {
    const data = world.files.get(this.#open())!;
    if (type !== ArrayBuffer) throw new Error("the fake reads ArrayBuffers only");
    let count = bytes ?? -1;
    if (count === -1 || data.length < this.#position + count) {
      if (this.#position >= data.length) throw new Error("read past end of file");
      count = data.length - this.#position;
    }
    const out = data.slice(this.#position, this.#position + count);
    this.#position += count;
    return out.buffer;
  }

  write(...items: (ArrayBuffer | string)[]): void {
    const path = this.#open();
    for (const item of items) {
      let bytes: Uint8Array;
      if (typeof item === "string") bytes = utf8(item);
      else if (item instanceof ArrayBuffer) bytes = new Uint8Array(item);
      else throw new TypeError("not an ArrayBuffer");
      const failing = world.fileWritesLeft === 0;
      if (world.fileWritesLeft !== undefined && world.fileWritesLeft > 0) world.fileWritesLeft -= 1;
      if (failing) bytes = bytes.subarray(0, bytes.length >> 1);
      const data = world.files.get(path)!;
      const next = new Uint8Array(Math.max(data.length, this.#position + bytes.length));
      next.set(data);
      next.set(bytes, this.#position);
      world.files.set(path, next);
      this.#position += bytes.length;
      if (failing) throw new Error("file write failed");
    }
  }

  close(): void {
    this.#open();
    this.#path = undefined;
  }

  get length(): number {
    return world.files.get(this.#open())!.length;
  }

  get position(): number {
    this.#open();
    return this.#position;
  }

  set position(value: number) {
    this.#open();
    this.#position = value;
  }

  static delete(path: string): boolean {
    return world.files.delete(path);
  }

  static exists(path: string): boolean {
    return world.files.has(path);
  }

  static rename(from: string, to: string): boolean {
    let target = to;
    if (!to.startsWith("/")) {
      if (to.includes("/")) throw new Error("invalid to");
      const slash = from.lastIndexOf("/");
      if (slash < 0) throw new Error("invalid from");
      target = from.slice(0, slash + 1) + to;
    }
    const data = world.files.get(from);
    if (data === undefined) return false;
    world.files.delete(from);
    world.files.set(target, data);
    return true;
  }
}
