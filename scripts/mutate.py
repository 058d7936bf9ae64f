#!/usr/bin/env python3
"""mutate.py LIST TREE ID | --ids LIST | --runnable LIST | --check LIST TREE

Apply mutant ID of LIST (tests/mutants.list, format described there) to the kernel
tree TREE, in place. --ids prints "ID name: claim" per mutant (with "only:" if it
has one); --runnable prints the IDs of the mutants without "only:". --check applies every
mutant to a scratch copy of the files it touches, without writing TREE, and prints
where each lands. Exits 1 naming the mutant and the line when a "from:" text matches
no line, or when an "after:" anchor is missing.
"""
import sys


def parse(path):
    mutants, cur = [], None
    with open(path) as f:
        for nr, raw in enumerate(f, 1):
            line = raw.rstrip('\n')
            if not line.strip() or line.startswith('#'):
                continue
            where = f'{path}:{nr}'
            if line.startswith('@ '):
                ident, _, rest = line[2:].partition(' ')
                name, _, claim = rest.partition(': ')
                cur = {'id': ident, 'name': name, 'claim': claim, 'edits': [], 'where': where}
                mutants.append(cur)
                continue
            key, sep, val = line.partition(':')
            if cur is None or not sep or key not in ('file', 'after', 'from', 'to', 'only'):
                sys.exit(f'{where}: not a mutant line (expected "@ ID name: claim", '
                         f'"file:", "after:", "from:", "to:" or "only:"): {line}')
            val = val.strip()
            if key == 'file':
                cur['file'] = val
            elif key == 'only':
                cur['only'] = val
            elif key == 'after':
                cur['after'] = val
            elif key == 'from':
                if 'file' not in cur:
                    sys.exit(f'{where}: "from:" before "file:" in mutant {cur["id"]}')
                cur['edits'].append([val, None, where])
            else:
                if not cur['edits'] or cur['edits'][-1][1] is not None:
                    sys.exit(f'{where}: "to:" without a "from:" in mutant {cur["id"]}')
                cur['edits'][-1][1] = val
    for m in mutants:
        if not m['edits'] or any(e[1] is None for e in m['edits']):
            sys.exit(f'{m["where"]}: mutant {m["id"]} needs "file:" and "from:"/"to:" pairs')
    ids = [m['id'] for m in mutants]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        sys.exit(f'{path}: mutant ids used twice: {" ".join(sorted(dup))}')
    return mutants


def mutate(m, text):
    """Return the mutated text and, per edit, the 1-based line number it changed."""
    lines = text.split('\n')
    start = 0
    if 'after' in m:
        hits = [i for i, l in enumerate(lines) if l.strip() == m['after']]
        if not hits:
            sys.exit(f'{m["where"]}: mutant {m["id"]}: no line "{m["after"]}" (after:) '
                     f'in {m["file"]}; the series changed: update tests/mutants.list')
        start = hits[0] + 1
    changed = []
    for old, new, where in m['edits']:
        hits = [i for i in range(start, len(lines)) if lines[i].strip() == old]
        if not hits:
            sys.exit(f'{where}: mutant {m["id"]}: no line "{old}" in {m["file"]}'
                     f'{" after the anchor" if start else ""}; the series changed: '
                     f'update tests/mutants.list')
        if 'after' not in m and len(hits) > 1:
            sys.exit(f'{where}: mutant {m["id"]}: "{old}" matches {len(hits)} lines of '
                     f'{m["file"]} ({", ".join(str(h + 1) for h in hits)}); add "after:"')
        i = hits[0]
        indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
        lines[i] = indent + (new if new else ';')
        changed.append(i + 1)
    return '\n'.join(lines), changed


def main(argv):
    if len(argv) == 3 and argv[1] == '--ids':
        for m in parse(argv[2]):
            only = f' (observable only on {m["only"]})' if 'only' in m else ''
            print(f'{m["id"]} {m["name"]}: {m["claim"]}{only}')
        return
    if len(argv) == 3 and argv[1] == '--runnable':
        for m in parse(argv[2]):
            if 'only' not in m:
                print(m['id'])
        return
    if len(argv) == 4 and argv[1] == '--check':
        for m in parse(argv[2]):
            with open(f'{argv[3]}/{m["file"]}') as f:
                _, changed = mutate(m, f.read())
            print(f'{m["id"]} {m["name"]}: {m["file"]}:{",".join(map(str, changed))}')
        return
    if len(argv) != 4:
        sys.exit(__doc__.strip())
    mutants = {m['id']: m for m in parse(argv[1])}
    if argv[3] not in mutants:
        sys.exit(f'no mutant {argv[3]} in {argv[1]} (known: {" ".join(mutants)})')
    m = mutants[argv[3]]
    path = f'{argv[2]}/{m["file"]}'
    with open(path) as f:
        text, changed = mutate(m, f.read())
    with open(path, 'w') as f:
        f.write(text)
    print(f'{m["file"]}:{",".join(map(str, changed))}')


if __name__ == '__main__':
    main(sys.argv)
