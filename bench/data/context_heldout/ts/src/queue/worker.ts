export class Worker {
  send(message: string): void {
    console.log(message);
  }
}
