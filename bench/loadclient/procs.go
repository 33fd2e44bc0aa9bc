package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// which Linux fixes at 100 for user space).
const clockTick = 10 * time.Millisecond

// proc is what the benchmarks read of one process from /proc.
type proc struct {
	pid, ppid int
	comm      string
	state     byte
	// CPU time of the process, plus that of its children it has waited
	// for (cutime, cstime), so a `cat` the shell ran and reaped counts.
	cpu time.Duration
}

// readProcs reads every process's stat line.
func readProcs() map[int]*proc {
	out := map[int]*proc{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p := readStat(pid); p != nil {
			out[pid] = p
		}
	}
	return out
}

func readStat(pid int) *proc {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	open, close := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || close < open {
		return nil
	}
	f := strings.Fields(string(b[close+1:]))
	// After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14)
	if len(f) < 15 {
		return nil
	}
	ppid, _ := strconv.Atoi(f[1])
	var ticks int64
	for _, s := range f[11:15] {
		v, _ := strconv.ParseInt(s, 10, 64)
		ticks += v
	}
	return &proc{pid: pid, ppid: ppid, comm: string(b[open+1 : close]), state: f[0][0], cpu: time.Duration(ticks) * clockTick}
}

// tree returns root and all its descendants.
func tree(procs map[int]*proc, root int) []*proc {
	kids := map[int][]*proc{}
	for _, p := range procs {
		kids[p.ppid] = append(kids[p.ppid], p)
	}
	var out []*proc
	r, ok := procs[root]
	if !ok {
		return nil
	}
	queue := []*proc{r}
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		out = append(out, p)
		queue = append(queue, kids[p.pid]...)
	}
	return out
}

// treeCPU is the CPU time used so far by root's process tree.
func treeCPU(root int) time.Duration {
	var sum time.Duration
	for _, p := range tree(readProcs(), root) {
		sum += p.cpu
	}
	return sum
}

// memory is resident and proportional set size, in bytes.
type memory struct{ RSS, PSS int64 }

func (m memory) add(o memory) memory { return memory{m.RSS + o.RSS, m.PSS + o.PSS} }

// procMemory reads a process's RSS and PSS from smaps_rollup.
func procMemory(pid int) memory {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/smaps_rollup")
	if err != nil {
		return memory{}
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fs := strings.Fields(v)
		if len(fs) == 0 {
			continue
		}
		kb, _ := strconv.ParseInt(fs[0], 10, 64)
		switch k {
		case "Rss":
			m.RSS = kb << 10
		case "Pss":
			m.PSS = kb << 10
		}
	}
	return m
}

// treeMemory sums the memory of root's tree, split into the daemon's own
// processes (those whose name is in daemon) and everything else (login
// programs, shells: the sessions).
func treeMemory(root int, daemon map[string]bool) (d, sessions memory, nd, ns int) {
	for _, p := range tree(readProcs(), root) {
		m := procMemory(p.pid)
		if daemon[p.comm] {
			d = d.add(m)
			nd++
		} else {
			sessions = sessions.add(m)
			ns++
		}
	}
	return d, sessions, nd, ns
}
