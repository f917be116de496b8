'use strict';
// Glider's "node-zlib" gzip recipes: raw deflate of stdin to stdout through node's own zlib.
// npm publishes tarballs compressed by node's bundled zlib (a Chromium fork whose output differs
// from stock zlib's), so only node rebuilds them byte for byte. Streams: memory stays bounded.
// Usage: node node_deflate.js LEVEL WINDOWBITS MEMLEVEL STRATEGY | node node_deflate.js --zlib-version
const zlib = require('zlib');

const args = process.argv.slice(2);
if (args[0] === '--zlib-version') {
  process.stdout.write(process.versions.zlib + '\n');
} else {
  const [level, windowBits, memLevel, strategy] = args.map(Number);
  let deflate;
  try {
    deflate = zlib.createDeflateRaw({ level, windowBits, memLevel, strategy });
  } catch (err) {
    process.stderr.write('bad deflate parameters: ' + err.message + '\n');
    process.exit(2);
  }
  deflate.on('error', (err) => {
    process.stderr.write('deflate failed: ' + err.message + '\n');
    process.exit(3);
  });
  // The reader went away (a recipe search stopped at the first differing byte): just stop.
  process.stdout.on('error', () => process.exit(0));
  process.stdin.pipe(deflate).pipe(process.stdout);
}
