// A sans-I/O observer of a TLS 1.2 handshake (RFC 5246), fed the transport bytes of both
// directions in any chunks. It frames records and handshake messages (a message may span records,
// a record may carry several messages) and keeps what a verifier needs: both randoms, the suites
// and signature algorithms the client offered, the suite chosen, the server's certificate chain
// and its ServerKeyExchange. Each direction stops at its ChangeCipherSpec: what follows is encrypted.
//
//   record:    type(1) version(2) length(2) fragment                      §6.2.1
//   handshake: msg_type(1) length(3) body                                 §7.4
//   ClientHello: version(2) random(32) session_id<0..32> suites<2..2^16-2> compression<1..2^8-1> extensions<0..2^16-1>
//   ServerHello: version(2) random(32) session_id<0..32> suite(2) compression(1) extensions<0..2^16-1>
//   Certificate: certificate_list<0..2^24-1> of ASN.1Cert<1..2^24-1>
//   ServerKeyExchange (ECDHE, RFC 8422 §5.4): curve_type(1)=3 named_curve(2) point<1..2^8-1>
//                     (DHE, RFC 5246 §7.4.3): dh_p<1..2^16-1> dh_g<1..2^16-1> dh_Ys<1..2^16-1>
//                     then SignatureAndHashAlgorithm(2) signature<0..2^16-1>

const RECORD_CHANGE_CIPHER_SPEC = 20;
const RECORD_ALERT = 21;
const RECORD_HANDSHAKE = 22;
const MAX_RECORD = 16384 + 2048;
/** A certificate chain larger than this is not one a device should parse. */
const MAX_HANDSHAKE_BYTES = 64 * 1024;

const CLIENT_HELLO = 1;
const SERVER_HELLO = 2;
const CERTIFICATE = 11;
const SERVER_KEY_EXCHANGE = 12;
const SERVER_HELLO_DONE = 14;

const EXT_SERVER_NAME = 0;
const EXT_SIGNATURE_ALGORITHMS = 13;
const EXT_SUPPORTED_VERSIONS = 43;

export type ObserverErrorCode = "malformed-handshake" | "unexpected-message" | "handshake-too-large";

export class TlsObserverError extends Error {
  constructor(readonly code: ObserverErrorCode, message: string) {
    super(message);
  }
}

/** How a suite's key exchange is authenticated. */
export type KeyExchange = "ecdhe-ecdsa" | "ecdhe-rsa" | "dhe-rsa" | "rsa" | "unknown";

export interface ServerKeyExchange {
  /** The signed parameters, exactly as sent (ServerECDHParams or ServerDHParams). */
  readonly params: Uint8Array;
  /** ECDHE only: the named curve (23 = secp256r1) and the server's ephemeral point. */
  readonly namedCurve: number | undefined;
  readonly point: Uint8Array | undefined;
  /** SignatureAndHashAlgorithm: hash (0 none, 4 sha256, 5 sha384, 6 sha512) and signature (0 anonymous, 1 rsa, 3 ecdsa). */
  readonly hash: number | undefined;
  readonly signatureAlgorithm: number | undefined;
  readonly signature: Uint8Array;
}

export interface ClientHelloFacts {
  readonly random: Uint8Array;
  readonly cipherSuites: readonly number[];
  /** Signature schemes offered (hash << 8 | signature); undefined when the extension is absent. */
  readonly signatureSchemes: readonly number[] | undefined;
  readonly serverName: string | undefined;
}

export interface ServerHelloFacts {
  readonly version: number;
  readonly random: Uint8Array;
  readonly cipherSuite: number;
  /** The supported_versions extension's choice (0x0304 = TLS 1.3), if present. */
  readonly selectedVersion: number | undefined;
}

export type Direction = "client" | "server";

export class HandshakeObserver {
  readonly #streams = { client: new Stream(), server: new Stream() };
  #client: ClientHelloFacts | undefined;
  #server: ServerHelloFacts | undefined;
  #certificates: Uint8Array[] | undefined;
  #keyExchange: ServerKeyExchange | undefined;
  #serverHelloDone = false;
  #alert = false;
  #error: TlsObserverError | undefined;

  get clientHello(): ClientHelloFacts | undefined { return this.#client; }
  get serverHello(): ServerHelloFacts | undefined { return this.#server; }
  /** The server's chain as sent (leaf first), once its Certificate message was seen. */
  get certificates(): readonly Uint8Array[] | undefined { return this.#certificates; }
  get serverKeyExchange(): ServerKeyExchange | undefined { return this.#keyExchange; }
  get serverHelloDone(): boolean { return this.#serverHelloDone; }
  /** Both sides sent ChangeCipherSpec: the handshake was seen up to where encryption starts. */
  get changeCipherSpec(): boolean { return this.#streams.client.encrypted && this.#streams.server.encrypted; }
  /** An alert was seen before ChangeCipherSpec (the handshake failed). */
  get alert(): boolean { return this.#alert; }
  /** The first malformed input, after which the observer ignores everything. */
  get error(): TlsObserverError | undefined { return this.#error; }
  /** Nothing more will be learned. */
  get done(): boolean { return this.changeCipherSpec || this.#alert || this.#error !== undefined; }

  /** Feed transport bytes. Throws the TlsObserverError the first time input is malformed. */
  feed(direction: Direction, bytes: Uint8Array): void {
    if (this.done || bytes.length === 0 || this.#streams[direction].encrypted) return;
    try {
      this.#records(direction, bytes);
    } catch (e) {
      if (!(e instanceof TlsObserverError)) throw e;
      this.#error = e;
      this.#streams.client.clear();
      this.#streams.server.clear();
      throw e;
    }
  }

  #records(direction: Direction, bytes: Uint8Array): void {
    const stream = this.#streams[direction];
    stream.records.push(bytes);
    for (;;) {
      if (this.done || stream.encrypted) return;
      const header = stream.records.peek(5);
      if (header === undefined) return;
      const type = header[0]!;
      const length = (header[3]! << 8) | header[4]!;
      if (header[1] !== 3) throw new TlsObserverError("malformed-handshake", "record version is not TLS");
      if (length > MAX_RECORD) throw new TlsObserverError("malformed-handshake", "record longer than TLS allows");
      const record = stream.records.take(5 + length);
      if (record === undefined) return;
      const fragment = record.subarray(5);
      switch (type) {
        case RECORD_HANDSHAKE:
          if (length === 0) throw new TlsObserverError("malformed-handshake", "empty handshake record");
          stream.handshake.push(fragment);
          if (stream.handshake.length > MAX_HANDSHAKE_BYTES) throw new TlsObserverError("handshake-too-large", "handshake larger than 64 KB");
          this.#messages(direction, stream);
          break;
        case RECORD_CHANGE_CIPHER_SPEC:
          if (length !== 1 || fragment[0] !== 1) throw new TlsObserverError("malformed-handshake", "bad ChangeCipherSpec");
          if (stream.handshake.length !== 0) throw new TlsObserverError("malformed-handshake", "ChangeCipherSpec inside a handshake message");
          // this direction is encrypted from here on: nothing more to read in it
          stream.encrypted = true;
          stream.clear();
          return;
        case RECORD_ALERT:
          this.#alert = true;
          return;
        default:
          throw new TlsObserverError("unexpected-message", `record type ${type} before ChangeCipherSpec`);
      }
    }
  }

  #messages(direction: Direction, stream: Stream): void {
    for (;;) {
      const header = stream.handshake.peek(4);
      if (header === undefined) return;
      const length = (header[1]! << 16) | (header[2]! << 8) | header[3]!;
      if (length > MAX_HANDSHAKE_BYTES) throw new TlsObserverError("handshake-too-large", "handshake message larger than 64 KB");
      const message = stream.handshake.take(4 + length);
      if (message === undefined) return;
      const type = header[0]!;
      const body = new Cursor(message.subarray(4));
      if (direction === "client") this.#clientMessage(type, body);
      else this.#serverMessage(type, body);
    }
  }

  #clientMessage(type: number, body: Cursor): void {
    if (type === CLIENT_HELLO) {
      if (this.#client) throw new TlsObserverError("unexpected-message", "second ClientHello");
      this.#client = clientHello(body);
    } else if (!this.#client) {
      throw new TlsObserverError("unexpected-message", `client message ${type} before ClientHello`);
    }
    // ClientKeyExchange, Certificate, CertificateVerify: nothing the verifier needs
  }

  #serverMessage(type: number, body: Cursor): void {
    switch (type) {
      case 0: // HelloRequest: ignored by a client during a handshake (§7.4.1.1)
        if (body.remaining !== 0) throw new TlsObserverError("malformed-handshake", "HelloRequest with a body");
        return;
      case SERVER_HELLO:
        if (this.#server) throw new TlsObserverError("unexpected-message", "second ServerHello");
        this.#server = serverHello(body);
        return;
      case CERTIFICATE:
        if (!this.#server || this.#certificates || this.#keyExchange || this.#serverHelloDone) {
          throw new TlsObserverError("unexpected-message", "Certificate out of order");
        }
        this.#certificates = certificateList(body);
        return;
      case SERVER_KEY_EXCHANGE:
        if (!this.#server || this.#keyExchange || this.#serverHelloDone) {
          throw new TlsObserverError("unexpected-message", "ServerKeyExchange out of order");
        }
        this.#keyExchange = serverKeyExchange(body, keyExchangeOf(this.#server.cipherSuite));
        return;
      case SERVER_HELLO_DONE:
        if (!this.#server || this.#serverHelloDone) throw new TlsObserverError("unexpected-message", "ServerHelloDone out of order");
        if (body.remaining !== 0) throw new TlsObserverError("malformed-handshake", "ServerHelloDone with a body");
        this.#serverHelloDone = true;
        return;
      default:
        if (!this.#server) throw new TlsObserverError("unexpected-message", `server message ${type} before ServerHello`);
        // CertificateRequest, CertificateStatus, NewSessionTicket…: not needed
        return;
    }
  }
}

/** The key exchange a TLS 1.2 suite uses (IANA registry), for the suites a device may meet. */
export function keyExchangeOf(suite: number): KeyExchange {
  const hi = suite >> 8, lo = suite & 0xff;
  if (hi === 0xc0) {
    if ((lo >= 0x06 && lo <= 0x0a) || lo === 0x23 || lo === 0x24 || lo === 0x2b || lo === 0x2c || (lo >= 0xac && lo <= 0xaf)) return "ecdhe-ecdsa";
    if ((lo >= 0x10 && lo <= 0x14) || lo === 0x27 || lo === 0x28 || lo === 0x2f || lo === 0x30) return "ecdhe-rsa";
    if (lo === 0x9e || lo === 0x9f || lo === 0xa2 || lo === 0xa3) return "dhe-rsa"; // DHE_RSA AES_CCM
    if (lo === 0x9c || lo === 0x9d || lo === 0xa0 || lo === 0xa1) return "rsa"; // RSA AES_CCM
    return "unknown";
  }
  if (hi === 0xcc) {
    if (lo === 0xa8) return "ecdhe-rsa";
    if (lo === 0xa9) return "ecdhe-ecdsa";
    if (lo === 0xaa) return "dhe-rsa";
    return "unknown";
  }
  if (hi === 0x00) {
    if ([0x2f, 0x35, 0x3c, 0x3d, 0x9c, 0x9d, 0x0a].includes(lo)) return "rsa";
    if ([0x33, 0x39, 0x67, 0x6b, 0x9e, 0x9f, 0x16].includes(lo)) return "dhe-rsa";
  }
  return "unknown";
}

function clientHello(c: Cursor): ClientHelloFacts {
  c.u16(); // client_version
  const random = c.bytes(32);
  c.vector(1, 0, 32);
  const suites = new Cursor(c.vector(2, 2, 0xfffe));
  if (suites.remaining % 2) throw new TlsObserverError("malformed-handshake", "odd cipher suite list");
  const cipherSuites: number[] = [];
  while (suites.remaining) cipherSuites.push(suites.u16());
  c.vector(1, 1, 0xff);
  let signatureSchemes: number[] | undefined;
  let serverName: string | undefined;
  forEachExtension(c, (type, data) => {
    if (type === EXT_SIGNATURE_ALGORITHMS) {
      const list = new Cursor(data.vector(2, 2, 0xfffe));
      if (list.remaining % 2) throw new TlsObserverError("malformed-handshake", "odd signature_algorithms list");
      signatureSchemes = [];
      while (list.remaining) signatureSchemes.push(list.u16());
    } else if (type === EXT_SERVER_NAME) {
      const list = new Cursor(data.vector(2, 1, 0xffff));
      while (list.remaining) {
        const kind = list.u8();
        const name = list.vector(2, 1, 0xffff);
        if (kind === 0 && serverName === undefined) serverName = ascii(name);
      }
    } else {
      data.rest();
    }
  });
  return { random, cipherSuites, signatureSchemes, serverName };
}

function serverHello(c: Cursor): ServerHelloFacts {
  const version = c.u16();
  const random = c.bytes(32);
  c.vector(1, 0, 32);
  const cipherSuite = c.u16();
  c.u8(); // compression
  let selectedVersion: number | undefined;
  forEachExtension(c, (type, data) => {
    if (type === EXT_SUPPORTED_VERSIONS) selectedVersion = data.u16();
    else data.rest();
  });
  return { version, random, cipherSuite, selectedVersion };
}

/** Extensions are optional at the end of a hello; each must be consumed exactly, no duplicates. */
function forEachExtension(c: Cursor, visit: (type: number, data: Cursor) => void): void {
  if (c.remaining === 0) return;
  const list = new Cursor(c.vector(2, 0, 0xffff));
  c.end("hello");
  const seen = new Set<number>();
  while (list.remaining) {
    const type = list.u16();
    if (seen.has(type)) throw new TlsObserverError("malformed-handshake", `extension ${type} twice`);
    seen.add(type);
    const data = new Cursor(list.vector(2, 0, 0xffff));
    visit(type, data);
    data.end(`extension ${type}`);
  }
}

function certificateList(c: Cursor): Uint8Array[] {
  const list = new Cursor(c.vector(3, 0, 0xffffff));
  c.end("Certificate");
  const out: Uint8Array[] = [];
  while (list.remaining) out.push(list.vector(3, 1, 0xffffff).slice());
  return out;
}

function serverKeyExchange(c: Cursor, kind: KeyExchange): ServerKeyExchange {
  const start = c.offset;
  let namedCurve: number | undefined;
  let point: Uint8Array | undefined;
  if (kind === "ecdhe-ecdsa" || kind === "ecdhe-rsa") {
    if (c.u8() !== 3) throw new TlsObserverError("malformed-handshake", "ECDHE parameters are not a named curve");
    namedCurve = c.u16();
    point = c.vector(1, 1, 0xff).slice();
  } else if (kind === "dhe-rsa") {
    c.vector(2, 1, 0xffff);
    c.vector(2, 1, 0xffff);
    c.vector(2, 1, 0xffff);
  } else {
    throw new TlsObserverError("unexpected-message", "ServerKeyExchange for a suite that has none");
  }
  const params = c.slice(start, c.offset);
  if (c.remaining === 0) {
    return { params, namedCurve, point, hash: undefined, signatureAlgorithm: undefined, signature: new Uint8Array(0) };
  }
  const hash = c.u8();
  const signatureAlgorithm = c.u8();
  const signature = c.vector(2, 0, 0xffff).slice();
  c.end("ServerKeyExchange");
  return { params, namedCurve, point, hash, signatureAlgorithm, signature };
}

function ascii(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) {
    if (b < 0x20 || b > 0x7e) throw new TlsObserverError("malformed-handshake", "server name is not ASCII");
    s += String.fromCharCode(b);
  }
  return s;
}

/** Bounds-checked reads over one message body. */
class Cursor {
  #at = 0;
  constructor(readonly data: Uint8Array) {}
  get remaining(): number { return this.data.length - this.#at; }
  get offset(): number { return this.#at; }
  slice(from: number, to: number): Uint8Array { return this.data.slice(from, to); }
  u8(): number { return this.data[this.#need(1)]!; }
  u16(): number { const at = this.#need(2); return (this.data[at]! << 8) | this.data[at + 1]!; }
  bytes(n: number): Uint8Array { const at = this.#need(n); return this.data.slice(at, at + n); }
  rest(): Uint8Array { const n = this.remaining; const at = this.#need(n); return this.data.subarray(at, at + n); }
  /** A length-prefixed vector (prefix of `size` bytes), whose length must lie in [min, max]. */
  vector(size: 1 | 2 | 3, min: number, max: number): Uint8Array {
    const at = this.#need(size);
    let length = 0;
    for (let i = 0; i < size; i++) length = length * 256 + this.data[at + i]!;
    if (length < min || length > max) throw new TlsObserverError("malformed-handshake", "vector length out of range");
    const start = this.#need(length);
    return this.data.subarray(start, start + length);
  }
  end(what: string): void {
    if (this.remaining !== 0) throw new TlsObserverError("malformed-handshake", `${what}: trailing bytes`);
  }
  #need(n: number): number {
    if (this.#at + n > this.data.length) throw new TlsObserverError("malformed-handshake", "message shorter than its fields");
    const at = this.#at;
    this.#at += n;
    return at;
  }
}

/** A growing byte queue: push chunks, peek at or take a prefix once it is all there. */
class Queue {
  #chunks: Uint8Array[] = [];
  #length = 0;
  get length(): number { return this.#length; }
  push(bytes: Uint8Array): void {
    this.#chunks.push(bytes.slice());
    this.#length += bytes.length;
  }
  peek(n: number): Uint8Array | undefined {
    if (this.#length < n) return undefined;
    this.#coalesce(n);
    return this.#chunks[0]!.subarray(0, n);
  }
  take(n: number): Uint8Array | undefined {
    if (this.#length < n) return undefined;
    if (n === 0) return new Uint8Array(0);
    this.#coalesce(n);
    const head = this.#chunks[0]!;
    const out = head.subarray(0, n);
    if (head.length === n) this.#chunks.shift();
    else this.#chunks[0] = head.subarray(n);
    this.#length -= n;
    return out;
  }
  clear(): void {
    this.#chunks = [];
    this.#length = 0;
  }
  /** Make the first chunk hold at least n bytes. */
  #coalesce(n: number): void {
    if (this.#chunks[0]!.length >= n) return;
    const out = new Uint8Array(Math.max(n, 0));
    let at = 0;
    while (at < n) {
      const chunk = this.#chunks.shift()!;
      const part = Math.min(chunk.length, n - at);
      out.set(chunk.subarray(0, part), at);
      at += part;
      if (part < chunk.length) this.#chunks.unshift(chunk.subarray(part));
    }
    this.#chunks.unshift(out);
  }
}

class Stream {
  readonly records = new Queue();
  readonly handshake = new Queue();
  encrypted = false;
  clear(): void {
    this.records.clear();
    this.handshake.clear();
  }
}
