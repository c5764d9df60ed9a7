// The I/O object's `Network` over node:net, node:tls and node:dgram.
//
// TLS is verified by the firmware's own verifier (src/tls/verified-tls.ts), exactly as on the
// board: Node's TLS client runs with its certificate checks off over a TCP connection whose bytes
// the core's handshake observer reads (tls-tap.ts), and the core decides before the caller hears
// onWritable. Node only negotiates; every TLS connection in the suite passes through the observer.
import { connect as netConnect, isIP, type Socket as NodeSocket } from "node:net";
import { connect as tlsConnect, rootCertificates, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { Clock, LogSink, Network, Socket, SocketError, TcpOptions, TlsOptions, UdpOptions, UdpSocket } from "../../src/io/io.js";
import { verifiedTls, type TransportTap } from "../../src/tls/verified-tls.js";
import { nodeCrypto } from "./node-crypto.js";
import { tlsError } from "./socket-errors.js";
import { StreamSocket } from "./socket.js";
import { TappedTransport } from "./tls-tap.js";
import { boardConnectionOptions, clientKeyProblem, nodeConnectionOptions, type TlsProfile } from "./tls-profile.js";
import { NodeUdpSocket } from "./udp.js";

export { BOARD_CIPHERS, type TlsProfile } from "./tls-profile.js";

/** What a TLS connection negotiated, for diagnostics. */
export interface TlsSessionInfo {
  readonly where: string;
  readonly serverName: string;
  readonly profile: TlsProfile;
  /** "TLSv1.2", "TLSv1.3". */
  readonly protocol: string | null;
  /** OpenSSL name of the suite, e.g. "ECDHE-RSA-AES128-GCM-SHA256". */
  readonly cipher: string;
  /** Key exchange group, e.g. "prime256v1", when ephemeral. */
  readonly group: string | undefined;
  readonly alpn: string | false;
}

export interface NodeNetworkOptions {
  /** Default "board": the ESP32 TLS stack's limits (see tls-profile.ts). */
  readonly tlsProfile?: TlsProfile;
  /** The device clock; the board profile checks certificate dates against it. */
  readonly clock: Clock;
  /** Real-time limit for connect + handshake; default 30 s. */
  readonly connectTimeoutMs?: number;
  /** Told about every TLS connection once its handshake is done. */
  readonly onTlsSession?: (info: TlsSessionInfo) => void;
  /** Where the TLS verifier's verdicts are logged (the device's log). */
  readonly log?: LogSink;
}

const sessions = new WeakMap<Socket, TlsSessionInfo>();
/** The verified socket the core holds → Node's socket under it. */
const platformSocket = new WeakMap<Socket, Socket>();

/** What `socket`'s TLS handshake negotiated; undefined for TCP or before the handshake. */
export function tlsSessionInfo(socket: Socket): TlsSessionInfo | undefined {
  return sessions.get(platformSocket.get(socket) ?? socket);
}

export class NodeNetwork implements Network {
  readonly profile: TlsProfile;
  readonly #options: NodeNetworkOptions;
  readonly #open = new Set<{ close(): void }>();

  constructor(options: NodeNetworkOptions) {
    this.#options = options;
    this.profile = options.tlsProfile ?? "board";
  }

  tcp(options: TcpOptions): Socket {
    return this.#track((onFinished) => new StreamSocket(options, {
      ...this.#common(options, false),
      onFinished,
      open: () => netConnect({ host: options.host, port: options.port }),
    }));
  }

  tls(options: TlsOptions): Socket {
    let inner: Socket | undefined;
    const socket = verifiedTls(options, (o, tap) => (inner = this.uncheckedTls(o, tap)), {
      clock: this.#options.clock,
      crypto: nodeCrypto,
      log: this.#options.log ?? (() => {}),
      defaultAnchors: () => rootCertificates.join("\n"),
    });
    if (inner) platformSocket.set(socket, inner);
    return socket;
  }

  /**
   * Node's TLS client with its certificate checks off, every transport byte shown to `tap`: the
   * platform half of verified TLS (src/tls/verified-tls.ts), also used by the XS bridge, whose
   * verifier runs inside XS.
   */
  uncheckedTls(options: TlsOptions, tap: TransportTap): Socket {
    const serverName = options.serverName ?? options.host;
    const socket: StreamSocket = this.#track((onFinished) => new StreamSocket(options, {
      ...this.#common(options, true),
      onFinished,
      open: () => this.#openTls(options, serverName, tap),
      onReady: (node) => this.#recordSession(socket, node as TLSSocket, options, serverName),
    }));
    return socket;
  }

  udp(options: UdpOptions): UdpSocket {
    return this.#track((onFinished) => new NodeUdpSocket(options, onFinished));
  }

  /** Sockets not yet finished. */
  get openCount(): number {
    return this.#open.size;
  }

  /** Close every socket still open (end of a test, simulated reboot). */
  closeAll(): void {
    for (const socket of [...this.#open]) socket.close();
    this.#open.clear();
  }

  #track<T extends { close(): void }>(make: (onFinished: () => void) => T): T {
    let socket: T | undefined;
    let finishedEarly = false;
    socket = make(() => {
      if (socket) this.#open.delete(socket);
      else finishedEarly = true;
    });
    if (!finishedEarly) this.#open.add(socket);
    return socket;
  }

  #common(options: TcpOptions, secure: boolean) {
    return {
      where: `${options.host}:${options.port}`,
      secure,
      boardProfile: this.profile === "board",
      connectTimeoutMs: this.#options.connectTimeoutMs ?? 30_000,
    };
  }

  #openTls(options: TlsOptions, serverName: string, tap: TransportTap): NodeSocket | SocketError {
    const where = `${options.host}:${options.port}`;
    const problem = clientCredentialProblem(this.profile, options);
    if (problem) return tlsError(where, problem);
    if (options.trustOnFirstUse && (options.clientCertificate !== undefined || options.clientKey !== undefined)) {
      return tlsError(where, "trust on first use takes no client certificate");
    }
    const connection: ConnectionOptions = {
      socket: new TappedTransport(options.host, options.port, tap),
      // Node refuses an IP address as SNI (RFC 6066 forbids it); the verifier still matches the IP SAN.
      ...(isIP(serverName) ? {} : { servername: serverName }),
      ...(options.clientCertificate !== undefined ? { cert: options.clientCertificate } : {}),
      ...(options.clientKey !== undefined ? { key: options.clientKey.revealString() } : {}),
      ...(options.alpn !== undefined ? { ALPNProtocols: [...options.alpn] } : {}),
      ...(this.profile === "board" ? boardConnectionOptions() : nodeConnectionOptions()),
      // The core verifies (above); Node's own checks would only pre-empt its typed reasons.
      rejectUnauthorized: false,
    };
    try {
      return tlsConnect(connection);
    } catch (e) {
      // createSecureContext failed: unreadable PEM. OpenSSL's message names no key bytes, but keep ours generic.
      return tlsError(where, `cannot use the given client certificate / client key (${(e as { code?: string }).code ?? "invalid PEM"})`);
    }
  }

  #recordSession(socket: Socket, node: TLSSocket, options: TlsOptions, serverName: string): void {
    const cipher = node.getCipher();
    const ephemeral = node.getEphemeralKeyInfo();
    const info: TlsSessionInfo = {
      where: `${options.host}:${options.port}`,
      serverName,
      profile: this.profile,
      protocol: node.getProtocol(),
      cipher: cipher.name,
      group: ephemeral && "name" in ephemeral ? ephemeral.name : undefined,
      alpn: node.alpnProtocol ?? false,
    };
    sessions.set(socket, info);
    this.#options.onTlsSession?.(info);
  }
}

function clientCredentialProblem(profile: TlsProfile, options: TlsOptions): string | undefined {
  if ((options.clientCertificate === undefined) !== (options.clientKey === undefined)) {
    return "a client certificate and its key must be given together";
  }
  return options.clientKey === undefined ? undefined : clientKeyProblem(profile, options.clientKey);
}
