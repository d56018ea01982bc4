import { HttpClient } from "./http/client";
import { formatBytes } from "./util/format";

export class App {
  private http: HttpClient;

  constructor(base: string) {
    this.http = new HttpClient(base);
  }

  async load(url: string): Promise<string> {
    const body = await this.http.send({ url });
    return formatBytes(body.length);
  }
}

export function fetchWith(client: HttpClient, url: string): Promise<string> {
  return client.send({ url });
}
