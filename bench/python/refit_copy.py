"""A copy of ML-100K for measuring channels refitted on all history before the test event.

Usage: python3 bench/python/refit_copy.py ../shared/data/ml-100k /tmp/ml100k-refit

BENCHMARKS.md "Stop 35" runs `cascade bench quality --data /tmp/ml100k-refit ...` on it with
every validation-driven choice fixed to the values the real split chose (the copy's validation
item is a marker, nothing may be tuned on it).
"""
# A copy of ML-100K where every kept user (>= 5 positives) gets one extra
# positive on a new item (raw id 1683) just before their seed-loo test row (same timestamp, the row
# before it in the file). seed-loo on the copy then has: test = the original test item,
# valid = the new item (meaningless: nothing may be tuned on it), train = the original training
# rows + the original validation item. So the copy's TEST figures are the original test requests
# scored by channels refitted on all history before the test event.
import os, shutil, sys
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst, exist_ok=True)
for f in os.listdir(src):
    if f not in ('u.data', 'u.item') and os.path.isfile(os.path.join(src, f)):
        shutil.copy(os.path.join(src, f), dst)
lines = open(os.path.join(src, 'u.data')).read().splitlines()
rows = [[int(x) for x in l.split('\t')] for l in lines]
cnt, last = {}, {}
for n, (u, i, r, t) in enumerate(rows):
    if r < 4: continue
    cnt[u] = cnt.get(u, 0) + 1
    if u not in last or (t, n) > last[u]: last[u] = (t, n)
before = {n: (u, t) for u, (t, n) in last.items() if cnt[u] >= 5}
with open(os.path.join(dst, 'u.data'), 'w') as o:
    for n, l in enumerate(lines):
        if n in before:
            u, t = before[n]
            o.write(f'{u}\t1683\t5\t{t}\n')
        o.write(l + '\n')
item = open(os.path.join(src, 'u.item'), 'rb').read()
with open(os.path.join(dst, 'u.item'), 'wb') as o:
    o.write(item)
    o.write(b'1683|Held-out marker (1998)|01-Jan-1998||http://example.invalid/|1' + b'|0' * 18 + b'\n')
print('users', len(before))
