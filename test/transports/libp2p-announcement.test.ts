/**
 * The gossipsub message format of announcements (transports/libp2p/announcement.ts): the publisher's
 * addresses and the engine's frame, bounded on input; and the fast id that lets gossipsub drop copies
 * of a message it already validated.
 */
import { multiaddr } from '@multiformats/multiaddr';
import { describe, expect, it } from 'vitest';
import { MAX_ANNOUNCEMENT_BYTES } from '../../engine/limits.js';
import {
  announcementId,
  decodeAnnouncement,
  encodeAnnouncement,
  MAX_ANNOUNCED_ADDRS,
  spaceTopic,
} from '../../transports/libp2p/announcement.js';

const addr = multiaddr('/ip4/127.0.0.1/tcp/4001').bytes;
const frame = new Uint8Array([1, 2, 3, 4]);

/** A well-formed message but for naming one address more than allowed. */
function tooMany(): Uint8Array {
  const entry = [addr.byteLength >> 8, addr.byteLength & 0xff, ...addr];
  const entries = Array.from({ length: MAX_ANNOUNCED_ADDRS + 1 }, () => entry).flat();
  return Uint8Array.of(MAX_ANNOUNCED_ADDRS + 1, ...entries, ...frame);
}

describe('announcement messages', () => {
  it('carry the addresses (at most MAX_ANNOUNCED_ADDRS) and the frame', () => {
    const many = Array.from({ length: MAX_ANNOUNCED_ADDRS + 3 }, () => addr);
    const decoded = decodeAnnouncement(encodeAnnouncement(many, frame))._unsafeUnwrap();
    expect(decoded.addrs).toHaveLength(MAX_ANNOUNCED_ADDRS);
    expect(multiaddr(decoded.addrs[0]).toString()).toBe('/ip4/127.0.0.1/tcp/4001');
    expect([...decoded.frame]).toEqual([...frame]);
    expect(spaceTopic('groceries')).toBe('/shoal/space/groceries');
  });

  it('refuse what is out of shape or over the limits', () => {
    const good = encodeAnnouncement([addr], frame);
    const bad: [string, Uint8Array][] = [
      ['empty', new Uint8Array(0)],
      ['too many addresses', tooMany()],
      ['truncated address', good.subarray(0, 5)],
      ['no frame', encodeAnnouncement([addr], new Uint8Array(0))],
      ['frame over the limit', encodeAnnouncement([], new Uint8Array(MAX_ANNOUNCEMENT_BYTES + 1))],
    ];
    for (const [what, bytes] of bad) expect(decodeAnnouncement(bytes).isErr(), what).toBe(true);
  });

  it('have a fast id that tells apart messages differing in any field, signature included', () => {
    const message = { from: addr, seqno: frame, topic: 't', data: frame, signature: frame, key: frame };
    const id = announcementId(message);
    expect(announcementId({ ...message })).toBe(id);
    expect(announcementId({ ...message, signature: Uint8Array.of(9) })).not.toBe(id);
    expect(announcementId({ ...message, data: Uint8Array.of(9) })).not.toBe(id);
    // Field boundaries count: moving a byte from one field to the next is another message.
    expect(announcementId({ ...message, seqno: Uint8Array.of(1, 2, 3), topic: '\u0004t' })).not.toBe(id);
  });
});
