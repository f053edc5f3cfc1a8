/**
 * The browser demo: a shopping list on Shoal, as an app would write it. It imports Shoal by its
 * package name (`shoal`, `shoal/storage/idb`, `shoal/transports/…`), keeps everything in IndexedDB,
 * syncs with the other tabs of this browser over a BroadcastChannel (automerge-repo's adapter) and
 * with other browsers over libp2p: WebSockets to the relay, then WebRTC straight to the other page,
 * signalled through the relay (circuit-relay-v2).
 *
 * URL parameters: `relay` (the relay's multiaddr; default: what `/relay.json` says; `off`: no libp2p,
 * tabs only), `quorum` (acknowledgements a write waits for; default 1).
 *
 * For tests and the curious, `window.shoalDemo` exposes the page's state and actions.
 */
import { BroadcastChannelNetworkAdapter } from '@automerge/automerge-repo-network-broadcastchannel';
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2';
import { webRTC } from '@libp2p/webrtc';
import { createPeer, type Collection, type ItemView, type Peer, type Space, type Transport } from 'shoal';
import { idbStorage } from 'shoal/storage/idb';
import { automergeTransport } from 'shoal/transports/automerge';
import { libp2pTransport, type Libp2pTransport, type LinkKind } from 'shoal/transports/libp2p';
import type { ResultAsync } from 'neverthrow';
import { ITEMS, LIST_SPACE, must, type ShoppingItem } from './list.js';

/** The BroadcastChannel the tabs of one browser share. */
const TAB_CHANNEL = 'shoal-browser-demo';

/** Where this tab keeps its peer: one IndexedDB database per tab, kept across reloads. */
const DB_KEY = 'shoal-demo-db';

/** How a peer of the list is linked to this page. */
export type PeerLink = LinkKind | 'tab';

/** What the page shows, as data (`window.shoalDemo.state()`). */
export interface DemoState {
  readonly id: string;
  readonly online: boolean;
  readonly relay: string;
  readonly relayId: string;
  /** This page's WebRTC address (through the relay), once it holds a reservation there. */
  readonly webrtcAddress: string | undefined;
  readonly items: ItemView<ShoppingItem>[];
  readonly pending: number;
  readonly peers: { id: string; link: PeerLink; relay: boolean }[];
  readonly vector: Record<string, number>;
  readonly stateHash: string;
  /** Renders since the page opened. */
  readonly renders: number;
}

interface Running {
  readonly peer: Peer;
  readonly space: Space;
  readonly items: Collection<ShoppingItem>;
  readonly libp2p: Libp2pTransport | undefined;
  readonly tabs: BroadcastChannelNetworkAdapter | undefined;
  readonly unsubscribe: () => void;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from the page`);
  return el as T;
};

const params = new URLSearchParams(location.search);
const quorum = Number(params.get('quorum') ?? '1');
const dbName = sessionStorage.getItem(DB_KEY) ?? `shoal-demo-${crypto.randomUUID()}`;
sessionStorage.setItem(DB_KEY, dbName);

let relay = params.get('relay') ?? '';
let run: Running | undefined;
let online = true;
let renders = 0;
let lastShown = '';
/** Each different view of the list the page showed (titles by id, pending, vector), oldest first. */
const timeline: { titles: Record<string, string>; pending: number; vector: Record<string, number> }[] = [];

async function start(): Promise<Running> {
  const transports: Transport[] = [];
  let libp2p: Libp2pTransport | undefined;
  let tabs: BroadcastChannelNetworkAdapter | undefined;
  if (online) {
    tabs = new BroadcastChannelNetworkAdapter({ channelName: TAB_CHANNEL });
    transports.push(automergeTransport(tabs));
  }
  if (online && relay !== 'off') {
    libp2p = libp2pTransport({
      // A slot on the relay (`/p2p-circuit`) makes this page reachable for the WebRTC handshake.
      listen: ['/p2p-circuit', '/webrtc'],
      bootstrap: [relay],
      // No STUN or TURN: host candidates only, which is all loopback and a LAN need.
      transports: [webRTC({ rtcConfiguration: { iceServers: [] } }), circuitRelayTransport()],
    });
    transports.push(libp2p);
  }
  const peer = must(await createPeer({ storage: idbStorage(dbName), transports, ackQuorum: quorum }), 'starting');
  const space = must(await peer.space(LIST_SPACE), 'opening the list');
  const items = space.collection<ShoppingItem>(ITEMS);
  const unsubscribe = space.subscribe(() => render());
  return { peer, space, items, libp2p, tabs, unsubscribe };
}

async function stop(): Promise<void> {
  const r = run;
  run = undefined;
  if (r === undefined) return;
  r.unsubscribe();
  await r.peer.close();
}

function ordered(items: readonly ItemView<ShoppingItem>[]): ItemView<ShoppingItem>[] {
  return [...items].sort((x, y) => x.addedAt - y.addedAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
}

const relayId = (): string => /\/p2p\/([^/]+)$/.exec(relay)?.[1] ?? '';

function state(): DemoState {
  const r = run;
  if (r === undefined) throw new Error('the page is restarting');
  const status = r.space.status();
  const kinds = new Map((r.libp2p?.links() ?? []).map((l) => [l.peer as string, l.kind]));
  return {
    id: r.peer.id,
    online,
    relay,
    relayId: relayId(),
    webrtcAddress: r.libp2p?.addresses().find((a) => a.includes('/webrtc')),
    items: ordered(r.items.all()),
    pending: status.pending,
    peers: status.peers.map((id) => ({ id, link: kinds.get(id) ?? 'tab', relay: id === relayId() })),
    vector: status.vector,
    stateHash: r.space.stateHash(),
    renders,
  };
}

const LINK_TEXT: Record<PeerLink, string> = {
  webrtc: 'WebRTC, direct',
  websockets: 'WebSockets, direct',
  tcp: 'TCP, direct',
  relayed: 'relayed',
  tab: 'another tab (BroadcastChannel)',
};

const short = (id: string): string => (id.length <= 16 ? id : `${id.slice(0, 8)}…${id.slice(-6)}`);

function render(): void {
  if (run === undefined) return;
  const s = state();
  renders += 1;
  const moment = {
    titles: Object.fromEntries(s.items.map((i) => [i.id, i.title])),
    pending: s.pending,
    vector: s.vector,
  };
  if (JSON.stringify(moment) !== JSON.stringify(timeline.at(-1))) timeline.push(moment);
  // Redraw only what changed: a list redrawn under the pointer loses clicks (and a test's aim).
  const shown = JSON.stringify([s.items, s.peers, s.pending, s.online, s.webrtcAddress, s.stateHash]);
  if (shown === lastShown) return;
  lastShown = shown;
  $('me').textContent = s.id;
  $('network').textContent = s.online ? 'online' : 'offline';
  $('pending').textContent = String(s.pending);
  $('hash').textContent = s.stateHash.slice(0, 12);
  $<HTMLInputElement>('offline').checked = !s.online;

  const list = $('items');
  list.replaceChildren(
    ...s.items.map((item) => {
      const li = document.createElement('li');
      li.dataset.id = item.id;
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.checked = item.done;
      box.addEventListener('change', () => void act(run?.items.update(item.id, 'done', box.checked), 'ticking'));
      const title = document.createElement('span');
      title.className = 'title';
      title.textContent = item.title;
      const del = document.createElement('button');
      del.textContent = '✕';
      del.title = 'remove';
      del.addEventListener('click', () => void act(run?.items.delete(item.id), 'removing'));
      li.append(box, title, del);
      return li;
    }),
  );
  if (s.items.length === 0) list.innerHTML = '<li class="empty">(nothing yet)</li>';

  const peers = $('peers');
  peers.replaceChildren(
    ...s.peers.map((p) => {
      const li = document.createElement('li');
      li.dataset.peer = p.id;
      li.dataset.link = p.link;
      li.textContent = `${short(p.id)}${p.relay ? ' (relay)' : ''} — ${LINK_TEXT[p.link]}`;
      return li;
    }),
  );
  if (s.peers.length === 0) peers.innerHTML = '<li class="empty">(nobody linked)</li>';
  $('webrtc').textContent = s.webrtcAddress ?? (s.online ? '(waiting for a slot on the relay)' : '(offline)');
}

async function act(op: ResultAsync<unknown, { message: string }> | undefined, doing: string): Promise<void> {
  const result = await op;
  if (result?.isErr() === true) $('error').textContent = `${doing}: ${result.error.message}`;
  render();
}

async function setOffline(offline: boolean): Promise<void> {
  if (online === !offline && run !== undefined) return;
  online = !offline;
  await stop();
  run = await start();
  render();
}

async function add(title: string): Promise<string> {
  const r = run;
  if (r === undefined) throw new Error('the page is restarting');
  const id = must(await r.items.create({ title, done: false, addedAt: Date.now() }), `adding ${title}`);
  render();
  return id;
}

async function rename(id: string, title: string): Promise<void> {
  const r = run;
  if (r === undefined) throw new Error('the page is restarting');
  must(await r.items.update(id, 'title', title), `renaming ${id}`);
  render();
}

/** Dial another page directly (WebRTC), its PeerId reached through the relay. */
async function dial(peerId: string): Promise<void> {
  const r = run;
  if (r?.libp2p === undefined) throw new Error('offline: nothing to dial with');
  must(await r.libp2p.dial(`${relay}/p2p-circuit/webrtc/p2p/${peerId}`), `dialling ${peerId}`);
}

async function main(): Promise<void> {
  if (relay === '') {
    const response = await fetch('/relay.json');
    relay = ((await response.json()) as { address: string }).address;
  }
  $('relay').textContent = relay;
  run = await start();
  render();

  $<HTMLFormElement>('add').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $<HTMLInputElement>('title');
    const title = input.value.trim();
    input.value = '';
    if (title !== '') void add(title);
  });
  $<HTMLInputElement>('offline').addEventListener('change', (event) => {
    void setOffline((event.target as HTMLInputElement).checked);
  });
  $<HTMLFormElement>('connect').addEventListener('submit', (event) => {
    event.preventDefault();
    const id = $<HTMLInputElement>('peer-id').value.trim();
    if (id !== '') dial(id).catch((e: unknown) => ($('error').textContent = String(e)));
  });
  // Links change without a space event (a WebRTC connection replacing a relayed one, a slot on the
  // relay): refresh the peers panel now and then.
  setInterval(render, 500);
  // Tell the other tabs at once that this one is gone (a reload comes back under the same PeerId).
  addEventListener('pagehide', () => run?.tabs?.disconnect());

  Object.assign(window, {
    shoalDemo: { state, add, rename, setOffline, dial, timeline, ready: true },
  });
  document.body.dataset.ready = 'true';
}

main().catch((e: unknown) => {
  $('error').textContent = `the page failed to start: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
});
