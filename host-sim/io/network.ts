// The I/O object's `Network` over node:net, node:tls and node:dgram.
import { createHash } from "node:crypto";
import { connect as netConnect, isIP, type Socket as NodeSocket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from "node:tls";
import type { Clock, Network, Socket, SocketError, TcpOptions, TlsOptions, UdpOptions, UdpSocket } from "../../src/io/io.js";
import { tlsError } from "./socket-errors.js";
import { StreamSocket } from "./socket.js";
import { boardConnectionOptions, clientKeyProblem, serverIdentityCheck, type TlsProfile } from "./tls-profile.js";
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
}

const sessions = new WeakMap<Socket, TlsSessionInfo>();

/** What `socket`'s TLS handshake negotiated; undefined for TCP or before the handshake. */
export function tlsSessionInfo(socket: Socket): TlsSessionInfo | undefined {
  return sessions.get(socket);
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
    const serverName = options.serverName ?? options.host;
    const socket: TlsStreamSocket = this.#track((onFinished) => new TlsStreamSocket(options, {
      ...this.#common(options, true),
      onFinished,
      open: () => this.#openTls(options, serverName),
      onReady: (node) => {
        socket.recordPeerKey(node as TLSSocket);
        this.#recordSession(socket, node as TLSSocket, options, serverName);
      },
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

  #openTls(options: TlsOptions, serverName: string): NodeSocket | SocketError {
    const where = `${options.host}:${options.port}`;
    const problem = clientCredentialProblem(this.profile, options);
    if (problem) return tlsError(where, problem);
    if (options.trustOnFirstUse) return this.#openTrustOnFirstUse(options, serverName);
    const connection: ConnectionOptions = {
      host: options.host,
      port: options.port,
      // Node refuses an IP address as SNI (RFC 6066 forbids it); the certificate's IP SAN is still checked.
      ...(isIP(serverName) ? {} : { servername: serverName }),
      ...(options.ca !== undefined ? { ca: options.ca } : {}),
      ...(options.clientCertificate !== undefined ? { cert: options.clientCertificate } : {}),
      ...(options.clientKey !== undefined ? { key: options.clientKey.revealString() } : {}),
      ...(options.alpn !== undefined ? { ALPNProtocols: [...options.alpn] } : {}),
      ...(this.profile === "board" ? boardConnectionOptions() : {}),
      rejectUnauthorized: true,
      checkServerIdentity: serverIdentityCheck(this.profile, serverName, () => this.#options.clock.now()),
    };
    try {
      return tlsConnect(connection);
    } catch (e) {
      // createSecureContext failed: unreadable PEM. OpenSSL's message names no key bytes, but keep ours generic.
      return tlsError(where, `cannot use the given CA / client certificate / client key (${(e as { code?: string }).code ?? "invalid PEM"})`);
    }
  }

  /**
   * Any certificate is accepted (no chain, name or date check): the caller pins the key it reports.
   * The board profile's versions and suites still apply.
   */
  #openTrustOnFirstUse(options: TlsOptions, serverName: string): NodeSocket | SocketError {
    if (options.clientCertificate !== undefined || options.clientKey !== undefined) {
      return tlsError(`${options.host}:${options.port}`, "trust on first use takes no client certificate");
    }
    return tlsConnect({
      host: options.host,
      port: options.port,
      ...(isIP(serverName) ? {} : { servername: serverName }),
      ...(options.alpn !== undefined ? { ALPNProtocols: [...options.alpn] } : {}),
      ...(this.profile === "board" ? boardConnectionOptions() : {}),
      rejectUnauthorized: false,
    });
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

/** A TLS socket that can tell the server's key (TlsOptions.trustOnFirstUse). */
class TlsStreamSocket extends StreamSocket {
  #peerKey: Uint8Array | undefined;

  recordPeerKey(node: TLSSocket): void {
    const cert = node.getPeerX509Certificate();
    if (cert === undefined) return;
    const spki = cert.publicKey.export({ type: "spki", format: "der" });
    this.#peerKey = new Uint8Array(createHash("sha256").update(spki).digest());
  }

  peerKey(): Uint8Array | undefined {
    return this.#peerKey?.slice();
  }
}

function clientCredentialProblem(profile: TlsProfile, options: TlsOptions): string | undefined {
  if ((options.clientCertificate === undefined) !== (options.clientKey === undefined)) {
    return "a client certificate and its key must be given together";
  }
  return options.clientKey === undefined ? undefined : clientKeyProblem(profile, options.clientKey);
}
