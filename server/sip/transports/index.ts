export type { Transport, TransportEvents, TransportKind } from './transport.ts';
export type { ConnectionLimits } from './connection-transport.ts';
export { UdpTransport, DEFAULT_UDP_RECEIVE_BUFFER_BYTES } from './udp-transport.ts';
export { StreamTransport, DEFAULT_IDLE_CONNECTION_TIMEOUT_MS, type TlsSettings } from './stream-transport.ts';
export { WsTransport, SIP_WS_SUBPROTOCOL } from './ws-transport.ts';
export { MemoryTransport, type SentDatagram } from './memory-transport.ts';
