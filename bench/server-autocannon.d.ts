// Just enough of autocannon's API for bench/server.ts (the package ships no types).
declare module 'autocannon' {
  interface Histogram {
    p50: number;
    p99: number;
    average: number;
  }
  interface Result {
    '2xx': number;
    non2xx: number;
    latency: Histogram;
    requests: Histogram;
  }
  interface Options {
    url: string;
    method?: string;
    connections?: number;
    duration?: number;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }
  function autocannon(options: Options): Promise<Result>;
  export default autocannon;
}
