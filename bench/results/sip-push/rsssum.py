import sys
for f in sys.argv[1:]:
    rows=[l.split() for l in open(f) if l.strip()]
    by={}
    for t,p,r in rows: by.setdefault(p,[]).append((int(t),int(r)))
    for p,v in by.items():
        if len(v)<20: continue
        t0=v[0][0]; peak=max(r for _,r in v)
        def at(s):
            c=[r for t,r in v if t-t0<=s]
            return c[-1]//1024 if c else 0
        print(f"{f.split('/')[-1]} pid {p} samples {len(v)} peak {peak//1024} MB; at 30/45/60/75 s: {at(30)}/{at(45)}/{at(60)}/{at(75)} MB")
