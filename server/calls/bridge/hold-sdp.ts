import sdpTransform from 'sdp-transform';

export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/**
 * The SDP a held party is re-INVITEd with (RFC 6337 §5.3): every stream `sendonly` — the far end
 * only sends, so the held party stops sending — or `inactive` where the party was already only
 * receiving or off. The origin's version goes up by `versionStep` (RFC 3264 §8: a changed offer
 * is a new version). Music on hold plugs in here: its media address replaces the connection lines.
 */
export function holdSdp(sdp: Buffer, versionStep: number): Buffer {
  return rewriteSdp(sdp, versionStep, (current) => (current === 'recvonly' || current === 'inactive' ? 'inactive' : 'sendonly'));
}

/** The SDP as it was before the hold, with a newer version: the media directions come back. */
export function unholdSdp(sdp: Buffer, versionStep: number): Buffer {
  return rewriteSdp(sdp, versionStep, (current) => current);
}

function rewriteSdp(sdp: Buffer, versionStep: number, direction: (current: MediaDirection) => MediaDirection): Buffer {
  const session = sdpTransform.parse(sdp.toString('utf8'));
  const sessionDirection = (session.direction as MediaDirection | undefined) ?? 'sendrecv';
  delete session.direction;
  for (const m of session.media) m.direction = direction((m.direction as MediaDirection | undefined) ?? sessionDirection);
  if (session.origin) session.origin.sessionVersion = Number(session.origin.sessionVersion) + versionStep;
  return Buffer.from(sdpTransform.write(session), 'utf8');
}

/** The direction of the first stream (what a phone's answer to a hold says). */
export function firstMediaDirection(sdp: Buffer): MediaDirection {
  const session = sdpTransform.parse(sdp.toString('utf8'));
  return ((session.media[0]?.direction ?? session.direction) as MediaDirection | undefined) ?? 'sendrecv';
}
