import type { HttpResourceConfig } from '../../config/schema.js';

export interface HttpRoute {
  readonly resource: HttpResourceConfig;
  /** Number of leading path segments that name the resource (its prefix) and are removed upstream. */
  readonly prefixSegments: readonly string[];
}

/** Finds the resource for a request: host (when configured) and the longest matching path prefix. */
export class RouteTable {
  private readonly routes: readonly HttpRoute[];

  constructor(resources: readonly HttpResourceConfig[]) {
    this.routes = resources
      .map((resource) => ({
        resource,
        prefixSegments: resource.pathPrefix ? resource.pathPrefix.split('/').slice(1).map(decodeURIComponent) : [],
      }))
      // Longest prefix first; host-specific routes before host-agnostic ones of the same length.
      .sort(
        (a, b) =>
          b.prefixSegments.length - a.prefixSegments.length ||
          Number(b.resource.host !== undefined) - Number(a.resource.host !== undefined),
      );
  }

  match(host: string | undefined, segments: readonly string[]): HttpRoute | undefined {
    const hostname = host?.replace(/:\d+$/, '').toLowerCase();
    return this.routes.find(
      (route) =>
        (route.resource.host === undefined || route.resource.host.toLowerCase() === hostname) &&
        route.prefixSegments.every((segment, index) => segments[index] === segment),
    );
  }
}
