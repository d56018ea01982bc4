export interface Req { url: string }

export class HttpClient {
  constructor(private base: string) {}

  send(req: Req): Promise<string> {
    return fetch(this.base + req.url).then((r) => r.text());
  }
}
