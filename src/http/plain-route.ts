// A leaf: rooms that contribute plain routes (src/oauth) name this type without importing the router.
/** A non-XRPC route: answered for GET (and HEAD) unless it names its methods. */
export interface PlainRoute {
  /** The HTTP methods it answers; others are 405. @default ["GET", "HEAD"] */
  readonly methods?: readonly ("GET" | "HEAD" | "POST")[];
  /** `ip` is the client IP as the rate limiter sees it. */
  readonly handler: (request: Request, ip: string) => Response | Promise<Response>;
  /** Probes and scrapers: never rate limited. */
  readonly exempt?: boolean;
}
