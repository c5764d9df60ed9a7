// Size limits sized for the board's heap (tens of KB), not for a server. Measured needs, with the
// margin chosen (issue 14, M7; `npm run bench` does not cover these, the numbers are byte counts):
//   - HTTP: the largest reply of the recorded real Mainflux bootstrap service (shared fixtures,
//     recorded.json) is 4,356 bytes (a config carrying CA, client certificate and key; the secure
//     variant 4,360 bytes encrypted). 16 KiB leaves 3.7× for longer chains. Headers: recorded
//     replies send well under 1 KiB; 4 KiB.
//   - MQTT: what the device receives is CONNACK (4 B), SUBACK/PUBACK (4-5 B) and commands on its
//     command topic (a rotation command is about 200 B with its topic). 4 KiB leaves 20×; a PUBLISH
//     the device sends is held to the same limit.
// A fleet that needs more sets `limits` in its factory config.
export interface SizeLimits {
  /** Largest MQTT packet accepted from the broker, and largest PUBLISH accepted from the application. */
  readonly mqttPacketBytes: number;
  /** Largest HTTP response body (bootstrap, registration). */
  readonly httpBodyBytes: number;
  /** Largest HTTP response head (status line and headers). */
  readonly httpHeaderBytes: number;
}

export const BOARD_LIMITS: SizeLimits = { mqttPacketBytes: 4 * 1024, httpBodyBytes: 16 * 1024, httpHeaderBytes: 4 * 1024 };

/** The ranges a factory config may choose from. */
export const LIMIT_RANGES: Readonly<Record<keyof SizeLimits, readonly [number, number]>> = {
  mqttPacketBytes: [1024, 256 * 1024],
  httpBodyBytes: [1024, 64 * 1024],
  httpHeaderBytes: [1024, 16 * 1024],
};
