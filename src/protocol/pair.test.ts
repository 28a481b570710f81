/**
 * A ClientProtocol and a ServerProtocol joined in memory (h11's
 * ConnectionPair): the handshake, fragmentation, ping/pong and both closing
 * orders run end to end with no I/O.
 */
import { describe, expect, test } from 'vitest';
import { utf8 } from '../testing/chunking.js';
import { ClientProtocol, type ClientProtocolOptions } from './client.js';
import type { Extension } from './extensions/base.js';
import { type Frame, frame, Opcode } from './frames.js';
import type { Request, Response } from './http11.js';
import { type Protocol, SEND_EOF, State } from './protocol.js';
import { ServerProtocol, type ServerProtocolOptions } from './server.js';

class Pair {
  readonly client: ClientProtocol;
  readonly server: ServerProtocol;
  readonly clientEvents: Array<Response | Frame> = [];
  readonly serverEvents: Array<Request | Frame> = [];
  clientEof = false;
  serverEof = false;

  constructor(clientOptions: ClientProtocolOptions = {}, serverOptions: ServerProtocolOptions = {}) {
    this.client = new ClientProtocol('ws://localhost/pair', clientOptions);
    this.server = new ServerProtocol(serverOptions);
  }

  handshake(): void {
    this.client.sendRequest(this.client.connect());
    this.pump();
    const request = this.serverEvents.shift() as Request;
    this.server.sendResponse(this.server.accept(request));
    this.pump();
    expect(this.clientEvents.shift()).toMatchObject({ kind: 'response', status: 101 });
  }

  /** Move bytes both ways until nothing is left to send. */
  pump(): void {
    for (let moved = true; moved; ) {
      moved = this.#move(this.client, this.server, () => (this.serverEof = true));
      moved = this.#move(this.server, this.client, () => (this.clientEof = true)) || moved;
      this.clientEvents.push(...this.client.eventsReceived());
      this.serverEvents.push(...this.server.eventsReceived());
    }
  }

  #move(from: Protocol<unknown>, to: Protocol<unknown>, onEof: () => void): boolean {
    const data = from.dataToSend();
    for (const chunk of data) {
      if (chunk === SEND_EOF) {
        onEof();
        to.receiveEof();
      } else {
        to.receiveData(chunk.slice());
      }
    }
    return data.length > 0;
  }
}

describe('client and server in memory', () => {
  test('handshake with a subprotocol and an extension', () => {
    const extension: Extension = { name: 'x-id', decode: (f) => f, encode: (f) => f };
    const pair = new Pair(
      {
        subprotocols: ['v2', 'v1'],
        extensions: [
          { name: 'x-id', getRequestParams: () => [['p', '1']], processResponseParams: () => extension },
        ],
      },
      {
        subprotocols: ['v1', 'v2'],
        extensions: [{ name: 'x-id', processRequestParams: (params) => [params, extension] }],
      },
    );
    pair.handshake();
    expect(pair.client.state).toBe(State.OPEN);
    expect(pair.server.state).toBe(State.OPEN);
    expect(pair.client.subprotocol).toBe('v2');
    expect(pair.server.subprotocol).toBe('v2');
    expect(pair.client.extensions).toEqual([extension]);
    expect(pair.server.extensions).toEqual([extension]);
  });

  test('messages both ways, fragmented and not, with ping/pong in between', () => {
    const pair = new Pair();
    pair.handshake();
    pair.client.sendText(utf8('hello'));
    pair.client.sendBinary(utf8('ab'), false);
    pair.client.sendPing(utf8('p'));
    pair.client.sendContinuation(utf8('cd'), true);
    pair.server.sendText(utf8('é'), false);
    pair.server.sendContinuation(new Uint8Array(0), true);
    pair.pump();
    expect(pair.serverEvents).toEqual([
      frame(Opcode.TEXT, utf8('hello')),
      frame(Opcode.BINARY, utf8('ab'), false),
      frame(Opcode.PING, utf8('p')),
      frame(Opcode.CONT, utf8('cd')),
    ]);
    expect(pair.clientEvents).toEqual([
      frame(Opcode.TEXT, utf8('é'), false),
      frame(Opcode.CONT, new Uint8Array(0)),
      frame(Opcode.PONG, utf8('p')),
    ]);
  });

  test('a large message of 5 MiB arrives intact', () => {
    const pair = new Pair({ maxMessageSize: null }, { maxMessageSize: null });
    pair.handshake();
    const data = new Uint8Array(5 * 2 ** 20);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    pair.client.sendBinary(data);
    pair.server.sendBinary(data.slice());
    pair.pump();
    // Buffer.compare: vitest's deep equality walks 5 M elements slowly.
    expect(Buffer.compare((pair.serverEvents[0] as Frame).data, data)).toBe(0);
    expect(Buffer.compare((pair.clientEvents[0] as Frame).data, data)).toBe(0);
  });

  test('the client closes first: the server closes TCP, the client follows', () => {
    const pair = new Pair();
    pair.handshake();
    pair.client.sendClose(1000, 'done');
    pair.pump();
    expect(pair.server.closeRcvdThenSent).toBe(true);
    expect(pair.client.closeRcvdThenSent).toBe(false);
    expect(pair.client.state).toBe(State.CLOSED);
    expect(pair.server.state).toBe(State.CLOSED);
    expect(pair.clientEof && pair.serverEof).toBe(true);
    for (const side of [pair.client, pair.server]) {
      expect(side.closeCode).toBe(1000);
      expect(side.closeReason).toBe('done');
      expect(side.closeError?.ok).toBe(true);
      expect(side.closeExpected()).toBe(false);
    }
  });

  test('the server closes first', () => {
    const pair = new Pair();
    pair.handshake();
    pair.server.sendClose(4000, 'bye');
    pair.pump();
    expect(pair.client.closeRcvdThenSent).toBe(true);
    expect(pair.client.state).toBe(State.CLOSED);
    expect(pair.server.state).toBe(State.CLOSED);
    expect(pair.client.closeCode).toBe(4000);
    expect(pair.server.closeCode).toBe(4000);
    expect(pair.client.closeError?.ok).toBe(false);
  });

  test('both close at the same time', () => {
    const pair = new Pair();
    pair.handshake();
    pair.client.sendClose(1000, 'c');
    pair.server.sendClose(1001, 's');
    pair.pump();
    expect(pair.client.state).toBe(State.CLOSED);
    expect(pair.server.state).toBe(State.CLOSED);
    expect(pair.client.closeCode).toBe(1001);
    expect(pair.server.closeCode).toBe(1000);
  });

  test('a failure on one side reaches the other as a close frame with the code', () => {
    const pair = new Pair({}, { maxMessageSize: 10 });
    pair.handshake();
    pair.client.sendBinary(new Uint8Array(11));
    pair.pump();
    expect(pair.server.parserError?.name).toBe('PayloadTooBigError');
    expect(pair.client.state).toBe(State.CLOSED);
    expect(pair.client.closeCode).toBe(1009);
    expect(pair.server.state).toBe(State.CLOSED);
  });

  test('a subprotocol the client did not offer fails the client handshake', () => {
    const pair = new Pair({ subprotocols: ['a'] }, { selectSubprotocol: () => null });
    pair.client.sendRequest(pair.client.connect());
    pair.pump();
    const request = pair.serverEvents.shift() as Request;
    const response = pair.server.accept(request);
    response.headers.append('Sec-WebSocket-Protocol', 'b');
    pair.server.sendResponse(response);
    pair.pump();
    expect(pair.client.handshakeError?.message).toBe('unsupported subprotocol: b');
  });
});
