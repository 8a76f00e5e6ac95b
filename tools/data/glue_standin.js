// Writes the GLUE stand-ins (real labelled text that is available offline, laid out exactly as
// the GLUE task it stands in for; see docs/DATA.md). Deterministic: the same input gives the
// same bytes, so tools/data_checksums.sha256 can pin the output.
//
//   node glue_standin.js sst2 FIXTURES_DIR OUT_DIR   # UCI sentiment sentences -> SST-2 layout
//   node glue_standin.js qnli WORDNET_DIR OUT_DIR    # WordNet glosses -> QNLI layout
//
// Each OUT_DIR gets train.tsv, dev.tsv (labelled), test.tsv (unlabelled, with an index column,
// as GLUE's test files) and STANDIN.txt, one line saying what the data really is; the trainer
// prints that line, so a stand-in is never mistaken for the GLUE task.
'use strict';
const fs = require('fs');
const path = require('path');

const {generator, shuffle} = require('./seeded_shuffle');

// One line of TSV: GLUE's files are not quoted, so a field must not hold a tab or a newline.
function row(fields) {
  return fields.map((f) => String(f).replace(/[\t\r\n]+/g, ' ').trim()).join('\t') + '\n';
}

function write(outDir, name, header, rows) {
  fs.writeFileSync(path.join(outDir, name), row(header) + rows.map(row).join(''));
}

// The UCI "Sentiment Labelled Sentences" (Kotzias et al. 2015): 1000 IMDb, 1000 Yelp and 1000
// Amazon sentences, half positive. Exact duplicates are dropped so that no dev sentence is also
// a training sentence.
function sst2(fixtures, outDir) {
  const seen = new Set();
  const examples = [];
  for (const source of ['imdb', 'yelp', 'amazon']) {
    const items = JSON.parse(fs.readFileSync(path.join(fixtures, source + '.json'), 'utf8'));
    for (const {text, class: label} of items) {
      const sentence = text.replace(/\s+/g, ' ').trim();
      if (sentence === '' || label === null) continue;  // each file ends with an empty item
      if (seen.has(sentence.toLowerCase())) continue;
      seen.add(sentence.toLowerCase());
      examples.push([sentence, label]);
    }
  }
  shuffle(examples, generator(20150101));
  const dev = examples.slice(0, 400), test = examples.slice(400, 600);
  const train = examples.slice(600);
  write(outDir, 'train.tsv', ['sentence', 'label'], train);
  write(outDir, 'dev.tsv', ['sentence', 'label'], dev);
  write(outDir, 'test.tsv', ['index', 'sentence'], test.map(([s], i) => [i, s]));
  fs.writeFileSync(
      path.join(outDir, 'STANDIN.txt'),
      `STAND-IN for SST-2: UCI sentiment labelled sentences (IMDb, Yelp, Amazon; ` +
          `Kotzias et al. 2015, CC BY 4.0), ${train.length} train / ${dev.length} dev / ` +
          `${test.length} test\n`);
}

// WordNet 3.0 synsets: "what does LEMMA mean?" paired with the synset's own definition
// (entailment) or with the definition of another synset of the same part of speech
// (not_entailment), half and half. Each split uses its own synsets.
function qnli(wordnet, outDir) {
  const synsets = {};
  for (const pos of ['noun', 'verb', 'adj', 'adv']) {
    synsets[pos] = [];
    for (const line of fs.readFileSync(path.join(wordnet, 'data.' + pos), 'utf8').split('\n')) {
      if (line === '' || line.startsWith('  ')) continue;  // the licence header
      const bar = line.indexOf(' | ');
      if (bar < 0) continue;
      const fields = line.slice(0, bar).split(' ');
      // offset lex_filenum ss_type w_cnt(hex) word lex_id ...: the first word names the synset.
      const lemma = fields[4].replace(/\(.*\)$/, '').replace(/_/g, ' ');
      // The gloss is "definition; "example"; ...": keep the definition.
      const definition = line.slice(bar + 3).split(/;\s*"/)[0].trim();
      if (definition !== '' && lemma !== '') synsets[pos].push({pos, lemma, definition});
    }
  }
  const all = [].concat(...Object.values(synsets));
  const random = generator(30);
  shuffle(all, random);
  const sizes = {train: 4000, dev: 500, test: 500};
  let next = 0;
  for (const [split, size] of Object.entries(sizes)) {
    const rows = [];
    for (let i = 0; i < size; ++i) {
      const s = all[next++];
      const entailed = random() < 0.5;
      let sentence = s.definition;
      if (!entailed) {
        const pool = synsets[s.pos];
        let other;
        do other = pool[Math.floor(random() * pool.length)];
        while (other.lemma === s.lemma || other.definition === s.definition);
        sentence = other.definition;
      }
      const question = `what does "${s.lemma}" mean?`;
      rows.push(
          split === 'test' ? [i, question, sentence] :
                             [i, question, sentence, entailed ? 'entailment' : 'not_entailment']);
    }
    const header = ['index', 'question', 'sentence'];
    write(outDir, split + '.tsv', split === 'test' ? header : header.concat(['label']), rows);
  }
  fs.writeFileSync(
      path.join(outDir, 'STANDIN.txt'),
      `STAND-IN for QNLI: WordNet 3.0 lemma questions vs their own or a random ` +
          `definition (WordNet licence), ${sizes.train} train / ${sizes.dev} dev / ` +
          `${sizes.test} test\n`);
}

const [command, input, outDir] = process.argv.slice(2);
if (!outDir || !['sst2', 'qnli'].includes(command)) {
  console.error('usage: node glue_standin.js sst2|qnli INPUT_DIR OUT_DIR');
  process.exit(2);
}
fs.mkdirSync(outDir, {recursive: true});
(command === 'sst2' ? sst2 : qnli)(input, outDir);
