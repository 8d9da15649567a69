// The weft room page: the browser side of doc/rooms.md.
//
// One WebSocket to the signaling server (ws://<this host>/ws), one
// RTCPeerConnection per other peer in the room (a mesh). The peer that joins
// offers to everyone already there; later renegotiations (video started,
// tracks added) use the "perfect negotiation" pattern so that two sides
// offering at once never wedge the connection. Over each connection: a
// data channel "chat" (created by the first offerer) and one data channel
// "file" per file transfer (created by the sender).
//
// window.room is a small hook object for people poking in the console and
// for the end-to-end tests (tests/e2e): plain state (peers, messages,
// transfers) plus a few methods (join, sendChat, sendFile, startVideo,
// getStats, snapshot).
'use strict';

(() => {
  const CHUNK = 16 * 1024; // file chunk size (doc/rooms.md)
  const HIGH_WATER = 1024 * 1024; // keep bufferedAmount <= 1 MiB
  const LOW_WATER = 256 * 1024; // refill when it drains below this
  const ACK_EVERY = 1024 * 1024; // receiver acks each MiB
  const MAX_FILE = 1024 * 1024 * 1024; // the page keeps a file in memory: refuse more
  const MAX_ATTEMPTS = 20; // per file transfer
  const ID_RE = /^[A-Za-z0-9_.-]{1,64}$/;
  const FILE_ID_RE = /^[A-Za-z0-9_-]{1,64}$/;

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...kids) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === 'class') e.className = v;
      else if (k === 'text') e.textContent = v;
      else e[k] = v;
    }
    for (const k of kids) e.append(k);
    return e;
  };
  const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
  const sha256 = async (data) => hex(await crypto.subtle.digest('SHA-256', data));
  const randomId = (prefix) => prefix + hex(crypto.getRandomValues(new Uint8Array(4)));
  // At most 64 bytes of UTF-8, cut on a character boundary.
  const clipName = (s) => {
    let out = '';
    for (const ch of String(s)) {
      if (new TextEncoder().encode(out + ch).length > 64) break;
      out += ch;
    }
    return out;
  };
  const fmtBytes = (n) =>
    n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

  // ---- the hook object: state the UI renders and the tests read ------------

  const room = {
    state: 'idle', // idle | connecting | joined | left | closed | error
    room: null,
    peer: null,
    name: null,
    peers: {}, // id -> {id, name, pcState, iceState, chatOpen, offerer, tracks}
    messages: [], // {from, name, text, self, ts}
    transfers: [], // see newTransfer()
    events: [], // signaling events: {type, peer, ts}
    errors: [], // strings
    video: false, // local camera and microphone on
    cutAfter: null, // tests: see startSend()
  };
  window.room = room;

  const conns = new Map(); // peer id -> connection (below); private
  const partials = new Map(); // file id -> {size, sha256, chunks, bytes, dc}: what we hold
  const sendData = new Map(); // transfer key -> ArrayBuffer of the file being sent
  let ws = null;
  let pingTimer = null;
  let localStream = null;
  // No STUN server by default: peers on one host or one LAN reach each other
  // with host candidates. ?stun=stun:HOST:PORT adds one (across NATs).
  const stunParam = new URLSearchParams(location.search).get('stun');
  const iceServers = stunParam ? [{ urls: stunParam }] : [];

  const note = (msg) => {
    room.errors.push(msg);
    console.warn('[room]', msg);
    systemMessage(`⚠ ${msg}`); // a person sees what went wrong, not just the console
  };

  // ---- signaling --------------------------------------------------------

  function signal(msg) {
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  }

  // Joins `roomName` as `name` (peer id: `peerId` or a random one). Resolves
  // once the server accepted (or rejects with its error).
  function join(roomName, name, peerId) {
    if (!ID_RE.test(roomName || '')) return Promise.reject(new Error(`bad room name: ${roomName}`));
    room.room = roomName;
    room.name = clipName(name || 'guest') || 'guest';
    room.peer = peerId && ID_RE.test(peerId) ? peerId : randomId('web-');
    room.state = 'connecting';
    render();
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return new Promise((resolve, reject) => {
      const sendJoin = () => signal({ type: 'join', room: room.room, peer: room.peer, name: room.name });
      room._joinWaiter = { resolve, reject };
      if (ws && ws.readyState === WebSocket.OPEN) return sendJoin();
      ws = new WebSocket(`${scheme}://${location.host}/ws`);
      ws.onopen = () => {
        sendJoin();
        // Keeps idle connections alive through proxies; the server answers pong.
        pingTimer = setInterval(() => signal({ type: 'ping' }), 20000);
      };
      ws.onmessage = (e) => {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch {
          return note(`server sent bad JSON: ${String(e.data).slice(0, 100)}`);
        }
        onSignal(m).catch((err) => note(`handling ${m.type}: ${err.message}`));
      };
      ws.onclose = (e) => {
        clearInterval(pingTimer);
        ws = null;
        for (const id of [...conns.keys()]) closePeer(id, false);
        room.peers = {};
        if (room.state !== 'left') room.state = 'closed';
        room.events.push({ type: 'ws-closed', code: e.code, ts: Date.now() });
        if (room._joinWaiter) room._joinWaiter.reject(new Error(`connection closed (${e.code})`));
        room._joinWaiter = null;
        systemMessage(`disconnected from the server (${e.code}${e.reason ? ` ${e.reason}` : ''})`);
        render();
      };
    });
  }

  function leave() {
    signal({ type: 'leave' });
    for (const id of [...conns.keys()]) closePeer(id, false);
    room.peers = {};
    room.state = 'left';
    systemMessage('you left the room');
    render();
  }

  async function onSignal(m) {
    switch (m.type) {
      case 'joined': {
        room.state = 'joined';
        room.events.push({ type: 'joined', ts: Date.now() });
        if (room._joinWaiter) room._joinWaiter.resolve(m);
        room._joinWaiter = null;
        systemMessage(`joined room ${m.room} as ${room.name} (${m.peer})`);
        // We are the newcomer: we offer to everyone already here.
        for (const p of m.peers || []) {
          addPeer(p.peer, p.name);
          openConnection(p.peer, true);
        }
        break;
      }
      case 'peer-joined':
        room.events.push({ type: 'peer-joined', peer: m.peer, ts: Date.now() });
        if (conns.has(m.peer)) closePeer(m.peer, false); // a stale one (it rejoined)
        addPeer(m.peer, m.name);
        systemMessage(`${m.name || m.peer} joined`);
        break; // it offers to us
      case 'peer-left': {
        room.events.push({ type: 'peer-left', peer: m.peer, ts: Date.now() });
        const p = room.peers[m.peer];
        systemMessage(`${(p && p.name) || m.peer} left`);
        closePeer(m.peer, true);
        break;
      }
      case 'offer':
      case 'answer':
        await onDescription(m);
        break;
      case 'candidate':
        await onCandidate(m);
        break;
      case 'bye':
        room.events.push({ type: 'bye', peer: m.from, ts: Date.now() });
        if (conns.has(m.from)) closeConnection(conns.get(m.from));
        break;
      case 'pong':
        break;
      case 'error':
        note(`server: ${m.code}: ${m.message}`);
        if (room._joinWaiter && ['peer-taken', 'room-full', 'bad-message', 'already-joined'].includes(m.code)) {
          room.state = 'error';
          room._joinWaiter.reject(new Error(`${m.code}: ${m.message}`));
          room._joinWaiter = null;
          systemMessage(`could not join: ${m.code} (${m.message})`);
        }
        break;
      default:
        note(`unknown message from the server: ${m.type}`);
    }
    render();
  }

  // ---- peer connections ---------------------------------------------------

  function addPeer(id, name) {
    room.peers[id] = { id, name: name || id, pcState: 'new', iceState: 'new', chatOpen: false, offerer: false, tracks: 0 };
  }

  // A connection: {id, pc, chat, offerer, polite, makingOffer, ignoreOffer,
  // cands (queued until the remote description is set), stream, tile}.
  function openConnection(id, offerer) {
    const pc = new RTCPeerConnection({ iceServers });
    const c = { id, pc, chat: null, offerer, polite: !offerer, makingOffer: false, ignoreOffer: false, cands: [], stream: null, tile: null, lastMid: '0', lastIndex: 0 };
    conns.set(id, c);
    if (!room.peers[id]) addPeer(id, id);
    room.peers[id].offerer = offerer;
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && candidate.candidate) {
        c.lastMid = candidate.sdpMid ?? c.lastMid;
        c.lastIndex = candidate.sdpMLineIndex ?? c.lastIndex;
        signal({ type: 'candidate', to: id, candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex });
      } else if (!candidate) {
        signal({ type: 'candidate', to: id, candidate: null, sdpMid: c.lastMid, sdpMLineIndex: c.lastIndex });
      }
    };
    pc.onnegotiationneeded = async () => {
      try {
        c.makingOffer = true;
        await pc.setLocalDescription();
        signal({ type: 'offer', to: id, sdp: pc.localDescription.sdp });
      } catch (e) {
        note(`offer to ${id}: ${e.message}`);
      } finally {
        c.makingOffer = false;
      }
    };
    pc.onconnectionstatechange = () => {
      if (room.peers[id] && conns.get(id) === c) room.peers[id].pcState = pc.connectionState;
      render();
    };
    pc.oniceconnectionstatechange = () => {
      if (room.peers[id] && conns.get(id) === c) room.peers[id].iceState = pc.iceConnectionState;
    };
    pc.ondatachannel = ({ channel }) => {
      if (channel.label === 'chat') setupChat(c, channel);
      else if (channel.label === 'file') receiveFile(c, channel);
      else channel.close();
    };
    pc.ontrack = ({ track }) => {
      if (!c.stream) c.stream = new MediaStream();
      c.stream.addTrack(track);
      if (room.peers[id]) room.peers[id].tracks = c.stream.getTracks().length;
      const v = ensureTile(c).querySelector('video');
      v.srcObject = c.stream;
      v.play().catch(() => {}); // autoplay may need a click first; the tile still shows
      track.onended = () => {
        if (c.stream) c.stream.removeTrack(track);
      };
    };
    if (offerer) {
      setupChat(c, pc.createDataChannel('chat', { ordered: true }));
      // An audio and a video section from the start, receive-only until our
      // camera is on: the other side can send its video at once (a weft
      // video-call does), and starting ours later only turns them sendrecv.
      if (!localStream) {
        pc.addTransceiver('audio', { direction: 'recvonly' });
        pc.addTransceiver('video', { direction: 'recvonly' });
      }
    }
    // The offerer sends its first offer from negotiationneeded (the chat
    // channel triggers it); local tracks go in the same offer.
    if (localStream) attachLocalTracks(c);
    return c;
  }

  // Tracks of the camera/microphone onto c's pc: into a transceiver the
  // remote offered (direction -> sendrecv) when there is one of the kind,
  // else a new transceiver (the next negotiation offers it).
  function attachLocalTracks(c) {
    if (!localStream) return;
    const used = new Set(c.pc.getSenders().map((s) => s.track).filter(Boolean));
    for (const track of localStream.getTracks()) {
      if (used.has(track)) continue;
      const tr = c.pc
        .getTransceivers()
        .find((t) => !t.stopped && t.receiver.track.kind === track.kind && !t.sender.track && t.mid !== null);
      if (tr) {
        tr.sender.replaceTrack(track);
        tr.sender.setStreams(localStream);
        if (tr.direction === 'recvonly') tr.direction = 'sendrecv';
        else if (tr.direction === 'inactive') tr.direction = 'sendonly';
      } else {
        c.pc.addTrack(track, localStream);
      }
    }
  }

  async function onDescription(m) {
    let c = conns.get(m.from);
    if (!c) {
      if (m.type !== 'offer') return note(`${m.type} from ${m.from}, with whom we have no connection`);
      c = openConnection(m.from, false);
    }
    const pc = c.pc;
    const desc = { type: m.type, sdp: m.sdp };
    // Perfect negotiation: on an offer collision the polite side (the one
    // that did not make the first offer) rolls back and answers; the other
    // ignores the incoming offer.
    const collision = m.type === 'offer' && (c.makingOffer || pc.signalingState !== 'stable');
    c.ignoreOffer = !c.polite && collision;
    if (c.ignoreOffer) return;
    try {
      await pc.setRemoteDescription(desc);
    } catch (e) {
      return note(`setRemoteDescription(${m.type}) from ${m.from}: ${e.message}`);
    }
    for (const cand of c.cands.splice(0)) await addCandidate(c, cand);
    if (m.type === 'offer') {
      attachLocalTracks(c);
      try {
        await pc.setLocalDescription();
        signal({ type: 'answer', to: m.from, sdp: pc.localDescription.sdp });
      } catch (e) {
        note(`answer to ${m.from}: ${e.message}`);
      }
    }
  }

  async function addCandidate(c, m) {
    if (m.candidate === null || m.candidate === undefined || m.candidate === '') {
      // End of candidates: only lets ICE finish sooner, so a refusal is harmless.
      await c.pc.addIceCandidate().catch(() => {});
      return;
    }
    const cand = String(m.candidate).replace(/^a=/, ''); // tolerate the SDP-line form
    try {
      await c.pc.addIceCandidate({ candidate: cand, sdpMid: m.sdpMid ?? null, sdpMLineIndex: m.sdpMLineIndex ?? null });
    } catch (e) {
      if (!c.ignoreOffer) note(`candidate from ${c.id}: ${e.message}`);
    }
  }

  async function onCandidate(m) {
    const c = conns.get(m.from);
    if (!c) return;
    if (!c.pc.remoteDescription) c.cands.push(m);
    else await addCandidate(c, m);
  }

  function closeConnection(c) {
    if (conns.get(c.id) === c) conns.delete(c.id);
    try {
      c.pc.close();
    } catch {
      /* already closed */
    }
    if (c.chat) c.chat.onclose = null;
    if (c.tile) c.tile.remove();
    if (room.peers[c.id]) {
      room.peers[c.id].pcState = 'closed';
      room.peers[c.id].chatOpen = false;
    }
    // A transfer cut with it restarts when a new connection comes (resume).
    for (const t of room.transfers) if (t.peer === c.id && !t.final && t.dir === 'send') t.state = 'waiting';
  }

  // The peer is gone (peer-left) or we leave: close and forget.
  function closePeer(id, gone) {
    const c = conns.get(id);
    if (c) closeConnection(c);
    if (gone) delete room.peers[id];
  }

  // ---- chat -------------------------------------------------------------

  function setupChat(c, dc) {
    c.chat = dc;
    dc.onopen = () => {
      if (room.peers[c.id]) room.peers[c.id].chatOpen = true;
      room.events.push({ type: 'chat-open', peer: c.id, ts: Date.now() });
      render();
      // A pending transfer to this peer can go now.
      for (const t of room.transfers) if (t.peer === c.id && t.dir === 'send' && t.state === 'waiting') startSend(t);
    };
    dc.onclose = () => {
      if (room.peers[c.id] && conns.get(c.id) === c) room.peers[c.id].chatOpen = false;
      render();
    };
    dc.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let m;
      try {
        m = JSON.parse(e.data);
      } catch {
        return note(`chat from ${c.id}: not JSON`);
      }
      if (!m || m.type !== 'chat' || typeof m.text !== 'string') return note(`chat from ${c.id}: not a chat message`);
      const p = room.peers[c.id];
      // The channel tells who sent it; "name" is display only.
      addMessage({ from: c.id, name: String(m.name || (p && p.name) || c.id), text: m.text, self: false });
    };
  }

  function sendChat(text) {
    text = String(text);
    if (!text) return 0;
    let n = 0;
    const msg = JSON.stringify({ type: 'chat', from: room.peer, name: room.name, text });
    for (const c of conns.values()) {
      if (c.chat && c.chat.readyState === 'open') {
        c.chat.send(msg);
        n++;
      }
    }
    addMessage({ from: room.peer, name: room.name, text, self: true, sentTo: n });
    return n;
  }

  function addMessage(m) {
    m.ts = Date.now();
    room.messages.push(m);
    const box = $('messages');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.append(el('div', { class: `msg${m.self ? ' self' : ''}` }, el('span', { class: 'who', text: m.self ? 'you' : m.name }), el('span', { text: m.text })));
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function systemMessage(text) {
    const box = $('messages');
    box.append(el('div', { class: 'msg system', text }));
    box.scrollTop = box.scrollHeight;
  }

  // ---- files ------------------------------------------------------------

  // Public transfer record (plain data, read by the UI and tests).
  function newTransfer(dir, peer, id, name, size, hash) {
    const t = {
      key: `${dir}:${id}:${room.transfers.length}`,
      dir, // 'send' | 'recv'
      peer,
      id,
      name,
      size,
      sha256: hash,
      bytes: 0, // sent (minus what is still buffered) / received
      acked: 0, // sender: the receiver's last ack
      resumedFrom: 0, // offset of the last (re)start
      attempts: 0,
      state: 'starting', // starting|waiting|sending|receiving|verifying|done|failed|interrupted
      final: false,
      ok: null,
      error: null,
      started: performance.now(),
      seconds: null,
      mbps: 0, // Mbit/s, recent
      url: null, // receiver: object URL of the verified file
      rate: { t: performance.now(), b: 0 },
    };
    room.transfers.push(t);
    renderTransfers();
    return t;
  }

  function finishTransfer(t, ok, error) {
    t.final = true;
    t.ok = ok;
    t.error = error || null;
    t.state = ok ? 'done' : 'failed';
    t.seconds = (performance.now() - t.started) / 1000;
    if (t.dir === 'send') sendData.delete(t.key);
    renderTransfers();
  }

  // Sends File `file` to peer `peerId`. Resolves with the transfer record.
  async function sendFile(file, peerId) {
    if (!room.peers[peerId]) throw new Error(`no peer ${peerId} in the room`);
    if (file.size > MAX_FILE) throw new Error(`${file.name}: larger than ${fmtBytes(MAX_FILE)}`);
    // The hash goes first in the protocol, so the whole file is read (and
    // kept for the chunks) before anything is sent.
    const data = await file.arrayBuffer();
    const hash = await sha256(data);
    const name = file.name.split(/[\\/]/).pop() || 'file';
    // Stable across resumes: from name, size and content hash.
    const id = (await sha256(new TextEncoder().encode(`${name}\n${data.byteLength}\n${hash}`))).slice(0, 32);
    const t = newTransfer('send', peerId, id, name, data.byteLength, hash);
    sendData.set(t.key, data);
    startSend(t);
    return t;
  }

  // One attempt: a new "file" channel on the connection with the receiver.
  function startSend(t) {
    if (t.final) return;
    const c = conns.get(t.peer);
    if (!c || !c.chat || c.chat.readyState !== 'open') {
      t.state = 'waiting'; // retried when a connection to the peer is up (setupChat)
      renderTransfers();
      return;
    }
    const data = sendData.get(t.key);
    // A receiver that keeps closing the channel without "done" must not
    // keep us retrying forever.
    if (t.attempts >= MAX_ATTEMPTS) return finishTransfer(t, false, `gave up after ${t.attempts} attempts`);
    t.attempts++;
    t.state = 'starting';
    const dc = c.pc.createDataChannel('file', { ordered: true });
    dc.binaryType = 'arraybuffer';
    dc.bufferedAmountLowThreshold = LOW_WATER;
    let off = 0;
    let sending = false;
    const pump = () => {
      if (sending || dc.readyState !== 'open') return;
      sending = true;
      try {
        while (off < t.size && dc.bufferedAmount + CHUNK <= HIGH_WATER) {
          const n = Math.min(CHUNK, t.size - off);
          dc.send(new Uint8Array(data, off, n));
          off += n;
          // Tests (like file-transfer --cut-after): room.cutAfter = BYTES
          // closes the channel once after that much, to exercise a resume.
          if (room.cutAfter && off >= room.cutAfter) {
            room.cutAfter = null;
            dc.close();
            return;
          }
        }
      } catch (e) {
        note(`sending ${t.name}: ${e.message}`);
      } finally {
        sending = false;
      }
      t.bytes = off - dc.bufferedAmount;
      if (off >= t.size) t.state = 'verifying';
    };
    dc.onbufferedamountlow = pump;
    dc.onopen = () => dc.send(JSON.stringify({ type: 'file', id: t.id, name: t.name, size: t.size, sha256: t.sha256 }));
    dc.onmessage = (e) => {
      if (typeof e.data !== 'string') return;
      let m;
      try {
        m = JSON.parse(e.data);
      } catch {
        return note(`file ${t.name}: receiver sent bad JSON`);
      }
      if (m.id !== t.id) return note(`file ${t.name}: message for another id ${m.id}`);
      if (m.type === 'resume') {
        const k = Number(m.offset);
        off = Number.isInteger(k) && k >= 0 && k <= t.size ? k : 0;
        t.resumedFrom = off;
        t.bytes = off;
        t.rate = { t: performance.now(), b: off };
        t.state = 'sending';
        pump();
      } else if (m.type === 'ack') {
        if (Number.isInteger(m.offset)) t.acked = m.offset;
      } else if (m.type === 'done') {
        if (m.ok === true) t.bytes = t.acked = t.size;
        finishTransfer(t, m.ok === true, m.ok === true ? null : m.error || 'receiver refused the file');
        dc.close();
      }
      renderTransfers();
    };
    dc.onclose = () => {
      if (t.final) return;
      // Cut before "done": start again (same id; the receiver says where).
      t.state = 'interrupted';
      renderTransfers();
      setTimeout(() => startSend(t), 500);
    };
  }

  // The receiving side of one "file" channel.
  function receiveFile(c, dc) {
    dc.binaryType = 'arraybuffer';
    let t = null;
    let part = null;
    const refuse = (why) => {
      note(`file from ${c.id}: ${why}`);
      if (t && !t.final) finishTransfer(t, false, why);
      if (t) partials.delete(t.id);
      dc.close();
    };
    dc.onmessage = (e) => {
      if (typeof e.data === 'string') {
        let m;
        try {
          m = JSON.parse(e.data);
        } catch {
          return refuse('bad JSON');
        }
        if (m.type !== 'file' || t) return refuse(`unexpected ${m.type}`);
        const okHeader =
          FILE_ID_RE.test(m.id || '') &&
          Number.isSafeInteger(m.size) && m.size >= 0 && m.size <= MAX_FILE &&
          /^[0-9a-f]{64}$/.test(m.sha256 || '') && typeof m.name === 'string';
        if (!okHeader) return refuse(`bad file header ${e.data.slice(0, 200)}`);
        const name = m.name.split(/[\\/]/).pop().replace(/^\.+/, '') || 'file';
        part = partials.get(m.id);
        if (part && (part.size !== m.size || part.sha256 !== m.sha256)) part = null;
        if (part && part.dc && part.dc !== dc) part.dc.close(); // an older attempt still open
        if (!part) {
          part = { size: m.size, sha256: m.sha256, chunks: [], bytes: 0, dc };
          partials.set(m.id, part);
        }
        part.dc = dc;
        t = room.transfers.find((x) => x.dir === 'recv' && x.id === m.id && !x.final);
        if (!t) t = newTransfer('recv', c.id, m.id, name, m.size, m.sha256);
        t.peer = c.id;
        t.attempts++;
        t.resumedFrom = part.bytes;
        t.bytes = part.bytes;
        t.rate = { t: performance.now(), b: part.bytes };
        t.state = 'receiving';
        dc.send(JSON.stringify({ type: 'resume', id: m.id, offset: part.bytes }));
        if (part.bytes === part.size) verify(t, part, dc);
        renderTransfers();
        return;
      }
      if (!t || t.state !== 'receiving') return refuse('data before the file header');
      const n = e.data.byteLength;
      if (part.bytes + n > part.size) return refuse('more data than announced');
      const before = part.bytes;
      part.chunks.push(e.data);
      part.bytes += n;
      t.bytes = part.bytes;
      if (part.bytes === part.size) {
        dc.send(JSON.stringify({ type: 'ack', id: t.id, offset: part.bytes }));
        verify(t, part, dc);
      } else if (Math.floor(part.bytes / ACK_EVERY) > Math.floor(before / ACK_EVERY)) {
        dc.send(JSON.stringify({ type: 'ack', id: t.id, offset: part.bytes }));
      }
    };
    dc.onclose = () => {
      if (t && !t.final) {
        t.state = 'interrupted'; // the partial stays in memory for a resume
        if (part && part.dc === dc) part.dc = null;
        renderTransfers();
      }
    };
  }

  // All bytes are here: hash them (crypto.subtle has no incremental API, so
  // the assembled file is hashed at once) and answer "done".
  async function verify(t, part, dc) {
    t.state = 'verifying';
    renderTransfers();
    const blob = new Blob(part.chunks);
    part.chunks = [blob]; // one copy, not two
    const hash = await sha256(await blob.arrayBuffer());
    partials.delete(t.id);
    const ok = hash === part.sha256;
    t.receivedSha256 = hash;
    if (ok) t.url = URL.createObjectURL(blob);
    const msg = ok ? { type: 'done', id: t.id, ok: true } : { type: 'done', id: t.id, ok: false, error: 'sha256 mismatch' };
    if (dc.readyState === 'open') dc.send(JSON.stringify(msg));
    finishTransfer(t, ok, ok ? null : 'sha256 mismatch');
  }

  // ---- video ------------------------------------------------------------

  async function startVideo(constraints = { video: { width: 640, height: 480 }, audio: true }) {
    if (localStream) return;
    localStream = await navigator.mediaDevices.getUserMedia(constraints);
    room.video = true;
    const tile = el('div', { class: 'tile local' }, el('video', { muted: true, autoplay: true, playsInline: true }), el('span', { class: 'label', text: `${room.name || 'you'} (you)` }));
    tile.id = 'local-tile';
    const v = tile.querySelector('video');
    v.muted = true;
    v.srcObject = localStream;
    $('videos').prepend(tile);
    v.play().catch(() => {});
    // Into every connection; negotiationneeded renegotiates each.
    for (const c of conns.values()) attachLocalTracks(c);
    render();
  }

  function stopVideo() {
    if (!localStream) return;
    for (const c of conns.values()) {
      for (const s of c.pc.getSenders()) {
        if (s.track && localStream.getTracks().includes(s.track)) {
          const tr = c.pc.getTransceivers().find((x) => x.sender === s);
          s.replaceTrack(null);
          if (tr && !tr.stopped) tr.direction = tr.direction === 'sendrecv' ? 'recvonly' : 'inactive';
        }
      }
    }
    for (const t of localStream.getTracks()) t.stop();
    localStream = null;
    room.video = false;
    const tile = $('local-tile');
    if (tile) tile.remove();
    render();
  }

  function ensureTile(c) {
    if (c.tile) return c.tile;
    const p = room.peers[c.id];
    c.tile = el('div', { class: 'tile remote' }, el('video', { autoplay: true, playsInline: true }), el('span', { class: 'label', text: (p && p.name) || c.id }));
    c.tile.dataset.peer = c.id;
    $('videos').append(c.tile);
    return c.tile;
  }

  // A summary of c's getStats() for the UI and tests: per kind, inbound
  // (frames/packets received and decoded) and outbound (sent, encoded).
  async function getStats(peerId) {
    const c = conns.get(peerId);
    if (!c) return null;
    const r = await c.pc.getStats();
    const out = { inbound: {}, outbound: {}, pcState: c.pc.connectionState, signalingState: c.pc.signalingState };
    r.forEach((s) => {
      if (s.type === 'inbound-rtp') {
        out.inbound[s.kind] = {
          packetsReceived: s.packetsReceived, bytesReceived: s.bytesReceived, packetsLost: s.packetsLost,
          framesReceived: s.framesReceived, framesDecoded: s.framesDecoded, keyFramesDecoded: s.keyFramesDecoded,
          frameWidth: s.frameWidth, frameHeight: s.frameHeight, totalSamplesReceived: s.totalSamplesReceived,
          codec: s.codecId && r.get(s.codecId) ? r.get(s.codecId).mimeType : null,
        };
      } else if (s.type === 'outbound-rtp') {
        out.outbound[s.kind] = {
          packetsSent: s.packetsSent, bytesSent: s.bytesSent, framesEncoded: s.framesEncoded, framesSent: s.framesSent,
          codec: s.codecId && r.get(s.codecId) ? r.get(s.codecId).mimeType : null,
        };
      }
    });
    return out;
  }

  // What the remote video tile of peerId shows right now: size and a crude
  // measure of content (distinct colours, luma spread), to tell a picture
  // from a black or frozen-green tile.
  function videoPicture(peerId) {
    const c = conns.get(peerId);
    const v = c && c.tile && c.tile.querySelector('video');
    if (!v) return { error: 'no remote video tile' };
    const w = v.videoWidth;
    const h = v.videoHeight;
    if (!w || !h) return { error: `remote video has no size yet (readyState ${v.readyState})` };
    const cv = document.createElement('canvas');
    cv.width = w;
    cv.height = h;
    const g = cv.getContext('2d', { willReadFrequently: true });
    g.drawImage(v, 0, 0, w, h);
    const px = g.getImageData(0, 0, w, h).data;
    let sum = 0;
    let sum2 = 0;
    const colours = new Set();
    for (let i = 0; i < px.length; i += 4) {
      const y = 0.299 * px[i] + 0.587 * px[i + 1] + 0.114 * px[i + 2];
      sum += y;
      sum2 += y * y;
      colours.add(((px[i] >> 4) << 8) | ((px[i + 1] >> 4) << 4) | (px[i + 2] >> 4));
    }
    const n = w * h;
    const mean = sum / n;
    return { width: w, height: h, paused: v.paused, currentTime: v.currentTime, lumaMean: mean, lumaStd: Math.sqrt(Math.max(0, sum2 / n - mean * mean)), colours: colours.size };
  }

  // Plain JSON of the state (what evaluate() in a test can carry).
  function snapshot() {
    return JSON.parse(JSON.stringify({ ...room, transfers: room.transfers.map(({ rate, ...t }) => t) }));
  }

  // ---- rendering ----------------------------------------------------------

  function render() {
    const joined = room.state === 'joined';
    const st = $('status');
    st.textContent = { idle: 'not joined', connecting: 'connecting…', joined: `room ${room.room}`, left: 'left', closed: 'disconnected', error: 'error' }[room.state] || room.state;
    st.className = `status ${joined ? 'joined' : room.state === 'error' || room.state === 'closed' ? 'error' : ''}`;
    $('me').textContent = room.peer ? `${room.name} · ${room.peer}` : '';
    $('join-form').hidden = joined || room.state === 'connecting';
    $('room-view').hidden = !(joined || room.state === 'left' || room.state === 'closed') && !room.messages.length;
    $('leave').hidden = !joined;
    $('video-start').hidden = room.video;
    $('video-stop').hidden = !room.video;

    const ul = $('peers');
    ul.replaceChildren();
    const ids = Object.keys(room.peers);
    if (!ids.length) ul.append(el('li', { class: 'empty', text: joined ? 'nobody else here yet' : 'not in a room' }));
    for (const id of ids) {
      const p = room.peers[id];
      ul.append(el('li', {}, el('span', { class: `dot ${p.pcState}` }), `${p.name} `, el('span', { class: 'pid', text: `${id} · ${p.pcState}${p.chatOpen ? ' · chat open' : ''}` })));
    }
    const sel = $('file-peer');
    const cur = sel.value;
    sel.replaceChildren(...ids.map((id) => el('option', { value: id, text: `${room.peers[id].name} (${id})` })));
    if (ids.includes(cur)) sel.value = cur;
    const lt = $('local-tile');
    if (lt) lt.querySelector('.label').textContent = `${room.name || 'you'} (you)`;
    for (const c of conns.values()) {
      if (c.tile) c.tile.querySelector('.label').textContent = (room.peers[c.id] && room.peers[c.id].name) || c.id;
    }
  }

  const transferRows = new Map(); // key -> DOM row
  function renderTransfers() {
    const box = $('transfers');
    for (const t of room.transfers) {
      let row = transferRows.get(t.key);
      if (!row) {
        row = el('div', { class: 'transfer' },
          el('div', { class: 'line' }, el('span', { class: 'name' }), el('span', { class: 'state' })),
          el('progress', { max: 1, value: 0 }),
          el('div', { class: 'line' }, el('span', { class: 'bytes' }), el('span', { class: 'rate' })));
        transferRows.set(t.key, row);
        box.prepend(row);
      }
      const peer = room.peers[t.peer];
      row.className = `transfer ${t.final ? (t.ok ? 'ok' : 'failed') : ''}`;
      row.querySelector('.name').textContent = `${t.dir === 'send' ? '↑' : '↓'} ${t.name} ${t.dir === 'send' ? 'to' : 'from'} ${(peer && peer.name) || t.peer}`;
      const st = row.querySelector('.state');
      if (t.url && !st.querySelector('a')) {
        st.replaceChildren(el('a', { href: t.url, download: t.name, text: 'verified ✓ — save' }));
      } else if (!t.url) {
        st.textContent = t.final ? (t.ok ? 'delivered, verified ✓' : `failed: ${t.error}`) : t.state + (t.resumedFrom ? ` (resumed at ${fmtBytes(t.resumedFrom)})` : '');
      }
      row.querySelector('progress').value = t.size ? t.bytes / t.size : 1;
      row.querySelector('.bytes').textContent = `${fmtBytes(t.bytes)} / ${fmtBytes(t.size)}`;
      const left = t.size - t.bytes;
      const bps = (t.mbps * 1e6) / 8;
      row.querySelector('.rate').textContent = t.final
        ? `${t.seconds.toFixed(1)} s, ${((t.size - t.resumedFrom) * 8 / 1e6 / Math.max(t.seconds, 0.001)).toFixed(1)} Mbit/s average`
        : t.mbps > 0 ? `${t.mbps.toFixed(1)} Mbit/s · ETA ${Math.ceil(left / bps)} s` : '';
    }
  }

  // Rates: every 250 ms, over the last interval (smoothed).
  setInterval(() => {
    const now = performance.now();
    let busy = false;
    for (const t of room.transfers) {
      if (t.final) continue;
      busy = true;
      const dt = (now - t.rate.t) / 1000;
      if (dt <= 0) continue;
      const inst = ((t.bytes - t.rate.b) * 8) / 1e6 / dt;
      t.mbps = t.mbps ? 0.7 * t.mbps + 0.3 * Math.max(inst, 0) : Math.max(inst, 0);
      t.rate = { t: now, b: t.bytes };
    }
    if (busy) renderTransfers();
  }, 250);

  // ---- wiring -------------------------------------------------------------

  function sendFiles(files) {
    const to = $('file-peer').value;
    if (!to) return systemMessage('nobody to send to: wait for a peer to join');
    for (const f of files) sendFile(f, to).catch((e) => systemMessage(`cannot send ${f.name}: ${e.message}`));
  }

  $('join-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const r = $('join-room').value.trim();
    const n = $('join-name').value.trim() || randomId('guest-');
    const u = new URL(location.href);
    u.searchParams.set('room', r);
    u.searchParams.set('name', n);
    history.replaceState(null, '', u);
    join(r, n).catch((err) => note(err.message));
  });
  $('leave').addEventListener('click', leave);
  $('chat-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const i = $('chat-input');
    if (i.value) sendChat(i.value);
    i.value = '';
  });
  $('file-input').addEventListener('change', (e) => {
    sendFiles([...e.target.files]);
    e.target.value = '';
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    sendFiles([...e.dataTransfer.files]);
  });
  $('video-start').addEventListener('click', () => startVideo().catch((e) => systemMessage(`camera: ${e.message}`)));
  $('video-stop').addEventListener('click', stopVideo);

  Object.assign(room, { join, leave, sendChat, sendFile, startVideo, stopVideo, getStats, videoPicture, snapshot });

  // ?room=R&name=N[&peer=P][&video=1] joins at once.
  const q = new URLSearchParams(location.search);
  if (q.get('room')) $('join-room').value = q.get('room');
  if (q.get('name')) $('join-name').value = q.get('name');
  render();
  if (q.get('room')) {
    const go = () => join(q.get('room'), q.get('name') || randomId('guest-'), q.get('peer')).catch((e) => note(e.message));
    if (q.get('video') === '1') startVideo().catch((e) => systemMessage(`camera: ${e.message}`)).finally(go);
    else go();
  }
})();
