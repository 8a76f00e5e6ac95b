// The seeded generator and shuffle the stand-in builders split data with (glue_standin.js,
// lra_standin.js): a split must not depend on Math.random, so the same input gives the same
// bytes and tools/data_checksums.sha256 can pin them.
'use strict';

// mulberry32: a small seeded generator of numbers in [0, 1).
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Fisher-Yates, in place.
function shuffle(items, random) {
  for (let i = items.length - 1; i > 0; --i) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

module.exports = {generator, shuffle};
