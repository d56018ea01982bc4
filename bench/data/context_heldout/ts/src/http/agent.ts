export class Agent {
  send(packet: Uint8Array): number {
    return packet.length;
  }
}
