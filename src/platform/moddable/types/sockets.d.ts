// Ambient declarations for the ECMA-419 sockets the glue uses, written from the Moddable SDK's
// documented API (documentation/io/io.md, and for the TLS socket examples/io/tcp/tlssocket).
// Only what the glue calls is declared: a call outside this surface fails `tsc -p
// tsconfig.moddable.json`, so the glue cannot drift from what the SDK offers. Where the SDK's own
// typings (used by mcconfig on a board build) are narrower than its runtime, these follow the
// typings, so glue that passes here also compiles there; the glue casts, with a comment, where
// it relies on the runtime.

declare module "embedded:io/socket/tcp" {
  export interface TcpOptions {
    /** An IPv4 address: the lwIP implementation does not resolve names. */
    address: string;
    port: number;
    nodelay?: boolean;
    format?: "buffer";
    onReadable?: (this: TCP, count: number) => void;
    /** `count` = bytes that may be written now; the first call means "connected". */
    onWritable?: (this: TCP, count: number) => void;
    /** Refused, reset or closed: ECMA-419 gives no reason. */
    onError?: (this: TCP) => void;
  }

  export default class TCP {
    constructor(options: TcpOptions);
    /** With format "buffer": everything waiting, or undefined when nothing is (the SDK's typings omit undefined). */
    read(byteLength?: number): number | ArrayBuffer;
    /**
     * Fill `buffer` (the SDK's TLS session reads records this way). The runtime returns the count
     * it filled; the SDK's typings say void.
     */
    read(buffer: ByteBuffer): void;
    /** Throws when more is written than the last onWritable allowed. */
    write(data: number | ByteBuffer): void;
    close(): void;
    readonly remoteAddress: string | undefined;
    readonly remotePort: number | undefined;
  }
}

declare module "embedded:io/socket/tcp/tls" {
  import type TCP from "embedded:io/socket/tcp";
  import type { TcpOptions } from "embedded:io/socket/tcp";

  /** Options of the SDK's TLS session (modules/crypt/ssl), as the glue sets them. */
  export interface SecureOptions {
    /** Trust anchor, DER. */
    certificate?: ArrayBuffer;
    /** Sent as SNI and checked against the server certificate. Defaults to `host`. */
    serverName?: string;
    /** Client key, DER PKCS#8 (RSA only in the SDK's TLS stack). */
    clientKey?: ArrayBuffer;
    clientCertificates?: ArrayBuffer[];
    applicationLayerProtocolNegotiation?: string[];
    /** Default true. False: no chain or name check (the firmware's own verifier decides, src/tls/). */
    verify?: boolean;
    /** Default true: sessions are cached per host and resumed without a certificate (ssl_cache.js). */
    cache?: boolean;
  }

  export interface TlsOptions extends TcpOptions {
    host: string;
    secure: SecureOptions;
    /** The transport the TLS socket runs over. */
    TCP: { io: typeof TCP };
  }

  /** As the SDK's typings/embedded_io/socket/tls.d.ts declares it (the glue casts where it relies on the runtime). */
  export default class TLSSocket {
    constructor(options: TlsOptions);
    /** At run time (tlssocket.js) no count returns everything waiting; the typings require one. */
    read(count: number | ArrayBufferLike): undefined | ArrayBufferLike;
    write(buffer: ArrayBufferLike): number;
    close(): undefined;
  }
}

declare module "embedded:io/socket/udp" {
  export interface UdpOptions {
    port?: number;
    format?: "buffer";
    onReadable?: (this: UDP, packets: number) => void;
    onError?: (this: UDP) => void;
  }

  export type Packet = ArrayBuffer & { readonly address: string; readonly port: number };

  export default class UDP {
    constructor(options: UdpOptions);
    /** One datagram, or undefined when none is waiting (the SDK's typings omit undefined). */
    read(): Packet;
    write(data: ByteBuffer, address: string, port: number): void;
    // close() exists at run time (modules/io/socket/lwip/udp.js) but not in the SDK's typings.
  }
}

// The SDK's HTTP server (modules/network/http/http.js, 8.2.3; typings/http.d.ts), on its `socket`
// module: built for every target (lin and esp32 alike). One callback per server, called with the
// connection's Request as `this`; the message numbers are the SDK's. Our subset of its typings.
declare module "http" {
  export type ServerMessages = -1 | 1 | 2 | 3 | 4 | 5 | 6 | 8 | 9 | 10;
  export interface ServerResponse { status?: number; reason?: string; headers?: string[]; body: true | string | ArrayBuffer }
  export type HTTPServerCallback = (this: Request, message: ServerMessages, val1?: unknown, val2?: unknown) =>
    void | number | boolean | string | ArrayBuffer | ServerResponse | typeof ArrayBuffer;
  export class Request {
    close(): void;
  }
  export class Server {
    constructor(options?: { port?: number; address?: string });
    close(): void;
    callback: HTTPServerCallback;
    static readonly connection: 1;
    static readonly status: 2;
    static readonly header: 3;
    static readonly headersComplete: 4;
    static readonly requestFragment: 5;
    static readonly requestComplete: 6;
    static readonly prepareResponse: 8;
    static readonly responseFragment: 9;
    static readonly responseComplete: 10;
    static readonly error: -1;
  }
}
