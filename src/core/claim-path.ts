/**
 * A claim by dotted path (`repository`, `org.tenant`, `realm_access.roles`); an exact key containing dots wins over
 * the path. Own properties only, so `__proto__` or `constructor` never resolve to anything.
 */
export function claimValue(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  if (Object.hasOwn(claims, path)) return claims[path];
  let node: unknown = claims;
  for (const part of path.split('.')) {
    if (node === null || typeof node !== 'object' || Array.isArray(node) || !Object.hasOwn(node, part))
      return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}
