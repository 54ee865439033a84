#!/usr/bin/env node
// The CLI runs the compiled JavaScript in dist/ (scripts/build.mjs, run by `npm ci` through `prepare`): no TypeScript
// loader at run time. Tests run the sources through tsx instead.
try {
  await import('../dist/main.js');
} catch (error) {
  if (error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes('dist/main.js')) {
    process.stderr.write('gatehouse: dist/ is missing: run `npm run build` (or `npm ci`, which builds it)\n');
    process.exit(2);
  }
  throw error;
}
