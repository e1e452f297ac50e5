import sys
# mon.py FILE: per-second idle (i), Herald (h) and generator (g) CPU from cpumon.sh output, in jiffies (100 = one CPU).
rows=[]
for l in open(sys.argv[1]):
    p=l.split(); t=int(p[0]); d={}
    for kv in p[2:]:
        k,v=kv.split('='); d[k]=int(v)
    rows.append((t,d))
prev=None
out=[]
for t,d in rows:
    if prev:
        pt,pd=prev
        h=[d[k]-pd[k] for k in d if k.startswith('(herald') and k in pd]
        g=[d[k]-pd[k] for k in d if k.startswith('(loadgen') and k in pd]
        out.append(f"{t-rows[0][0]}:i{d['i']-pd['i']}/h{sum(h)}/g{sum(g)}")
    prev=(t,d)
print(' '.join(out))
