/**
 * CSS-WC server side: a UDP `handle` for Switchboard's UdpListener (or `server.udp`).
 *
 * The receive timevalue is read first thing, the transmit timevalue as late as possible before
 * sending. With `followUp`, the response is type 2 and, once the kernel has taken it, a type 3
 * follow-up carries a transmit timevalue read after the send.
 *
 * Datagrams that are not a valid request (wrong size, version not 0, a response type) are
 * ignored, as the spec has a server do: MalformedDatagram makes the listener drop and count them.
 */
import { MalformedDatagram } from "switchboard";
import type { UdpHandle } from "switchboard";
import type { WallClock } from "./wall-clock.ts";
import { WcMessageError, WcType, encodeMaxFreqError, encodePrecision, packWc, unpackWc, type WcMessage } from "./wc-message.ts";

export interface WallClockServerOptions {
  clock: WallClock;
  followUp?: boolean;
}

export function wallClockHandler(options: WallClockServerOptions): UdpHandle {
  const { clock } = options;
  const precision = encodePrecision(clock.precisionSecs);
  const maxFreqError = encodeMaxFreqError(clock.maxFreqErrorPpm);
  return async (data, _from, reply) => {
    const received = clock.now();
    let request: WcMessage;
    try {
      request = unpackWc(data);
    } catch (err) {
      if (err instanceof WcMessageError) throw new MalformedDatagram(err.message);
      throw err;
    }
    if (request.type !== WcType.Request) throw new MalformedDatagram(`not a request (type ${request.type})`);
    const response: WcMessage = {
      ...request,
      type: options.followUp ? WcType.ResponseWithFollowUp : WcType.Response,
      precision,
      maxFreqError,
      receive: received,
      transmit: 0n,
    };
    response.transmit = clock.now();
    if (!options.followUp) return packWc(response);
    await reply.send(packWc(response));
    return packWc({ ...response, type: WcType.FollowUp, transmit: clock.now() });
  };
}
