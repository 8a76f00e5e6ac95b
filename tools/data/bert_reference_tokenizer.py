#!/usr/bin/env python3
"""Independent reference of BERT's uncased tokenizer, used only to make test fixtures.

A from-scratch Python port of the published algorithm (Devlin et al. 2018; the BasicTokenizer and
WordpieceTokenizer of Google's tokenization.py and of Hugging Face's BertTokenizer, do_lower_case
=True): clean text, space out CJK ideographs, NFC, split on whitespace, lower-case, NFD and drop
nonspacing marks, split on punctuation, then greedy longest-match WordPiece with '##'
continuations and [UNK] for words over 100 characters or without a segmentation. It uses Python's
`unicodedata`, not utf8proc, so the C++ tokenizer is checked against separate Unicode tables too.

Usage:
  bert_reference_tokenizer.py --vocab=data/vocab/bert-base-uncased/vocab.txt \
      --lines=lines.txt --out=trainer/data/testdata/bert_uncased_fixture.jsonl

lines.txt holds one JSON string per line (so control characters survive); the output holds one
JSON object per line: {"text": ..., "tokens": [...], "ids": [...]}.
"""
import argparse
import json
import unicodedata


def is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch).startswith("C")


def is_punctuation(ch):
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def is_cjk(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


def basic_tokens(text):
    cleaned = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or is_control(ch):
            continue
        cleaned.append(" " if is_whitespace(ch) else ch)
    spaced = []
    for ch in cleaned:
        spaced.append(" " + ch + " " if is_cjk(ord(ch)) else ch)
    text = unicodedata.normalize("NFC", "".join(spaced))
    out = []
    for token in text.split():
        token = token.lower()
        token = "".join(c for c in unicodedata.normalize("NFD", token)
                        if unicodedata.category(c) != "Mn")
        current = []
        for ch in token:
            if is_punctuation(ch):
                if current:
                    out.append("".join(current))
                    current = []
                out.append(ch)
            else:
                current.append(ch)
        if current:
            out.append("".join(current))
    return " ".join(out).split()


def wordpiece(token, vocab):
    if len(token) > 100:
        return ["[UNK]"]
    pieces = []
    start = 0
    while start < len(token):
        end = len(token)
        found = None
        while start < end:
            piece = token[start:end]
            if start > 0:
                piece = "##" + piece
            if piece in vocab:
                found = piece
                break
            end -= 1
        if found is None:
            return ["[UNK]"]
        pieces.append(found)
        start = end
    return pieces


def tokenize(text, vocab):
    tokens = []
    for word in basic_tokens(text):
        tokens.extend(wordpiece(word, vocab))
    return tokens


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", required=True)
    parser.add_argument("--lines", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with open(args.vocab, encoding="utf-8") as f:
        vocab = {line.rstrip("\n"): i for i, line in enumerate(f)}
    with open(args.lines, encoding="utf-8") as f, open(args.out, "w", encoding="utf-8") as out:
        for line in f:
            if not line.strip():
                continue
            text = json.loads(line)
            tokens = tokenize(text, vocab)
            out.write(json.dumps({"text": text, "tokens": tokens,
                                  "ids": [vocab[t] for t in tokens]}, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
