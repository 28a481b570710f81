import { describe, expect, test } from 'vitest';
import { fixedRandom, utf8 } from '../testing/chunking.js';
import { BaseClientProtocol } from './base-client.js';
import { ClientProtocol } from './client.js';
import { InvalidStatusError } from './errors.js';
import { frame, Opcode } from './frames.js';
import type { Response } from './http11.js';
import { SEND_EOF, State } from './protocol.js';
import type { WebSocketUri } from './uri.js';

// fixedRandom(0) makes the key 16 zero bytes.
const ACCEPT = 'ICX+Yqv66kxgM0FcWaLWlFLwTAI=';
const URI: WebSocketUri = { secure: false, host: 'example.com', port: 80, resourceName: '/', userInfo: null };

function connected(client: BaseClientProtocol): BaseClientProtocol {
  client.sendRequest(client.connect());
  client.dataToSend();
  return client;
}

const lean = () => connected(new BaseClientProtocol(URI, { random: fixedRandom(0) }));

describe('BaseClientProtocol', () => {
  test('101 opens the connection as ClientProtocol does', () => {
    const client = lean();
    const head = `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\n\r\n`;
    client.receiveData(Uint8Array.from([...utf8(head), 0x81, 0x02, 0x48, 0x69]));
    const [response, ...frames] = client.eventsReceived();
    expect(response).toMatchObject({ kind: 'response', status: 101 });
    expect(frames).toEqual([frame(Opcode.TEXT, utf8('Hi'))]);
    expect(client.state).toBe(State.OPEN);
  });

  test('non-101 status: fails at the end of the head, without waiting for the body', () => {
    const client = lean();
    // The body never arrives whole; ClientProtocol would wait for it.
    client.receiveData(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\nX-Why: auth\r\n\r\npartial'));
    const [event] = client.eventsReceived() as Response[];
    expect(event).toMatchObject({ kind: 'response', status: 403, reasonPhrase: 'Forbidden' });
    expect(event?.body.byteLength).toBe(0);
    expect(client.dataToSend()).toEqual([SEND_EOF]);
    const error = client.handshakeError;
    expect(error).toBeInstanceOf(InvalidStatusError);
    expect(error?.message).toBe('server rejected WebSocket connection: HTTP 403');
    expect((error as InvalidStatusError).response).toBe(event);
    // What follows the head is discarded, like any input after a failed handshake.
    client.receiveData(utf8('more of the body'));
    expect(client.eventsReceived()).toEqual([]);
    client.receiveEof();
    expect(client.state).toBe(State.CLOSED);
    expect(client.closeCode).toBe(1006);
  });

  test('ClientProtocol, for comparison, reads the body first', () => {
    const client = connected(new ClientProtocol(URI, { random: fixedRandom(0) }));
    client.receiveData(utf8('HTTP/1.1 403 Forbidden\r\nContent-Length: 100\r\n\r\npartial'));
    expect(client.eventsReceived()).toEqual([]);
    expect(client.handshakeError).toBeNull();
  });
});
