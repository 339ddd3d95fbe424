/**
 * A task result that must run something right after its reply is written: room.join's
 * handover (the reply carries the replay, THEN the live pushes above its offset may go).
 * Only the router unwraps it; the wire sees `value`.
 */
export class AfterReply {
  constructor(
    readonly value: unknown,
    readonly after: () => void,
  ) {}
}

export function afterReply(value: unknown, after: () => void): AfterReply {
  return new AfterReply(value, after);
}
