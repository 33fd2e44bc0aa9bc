// Package recording writes a session's terminal traffic to an asciicast
// v2 file (https://docs.asciinema.org/manual/asciicast/v2/), which
// asciinema replays.
//
// The session's data path only copies bytes into a buffer (Output, Input,
// Resize); a goroutine of the Recorder's own encodes them as JSON lines
// and writes them. The data path waits only when that goroutine is a full
// buffer behind, and then for stallLimit at most: past that the recording
// stops, as on a write error or at MaxBytes, with a marker event saying
// why, and the session goes on.
package recording

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tlntsvr/tlntsvr/internal/trustedfile"
)

// Options describe the recording to make.
type Options struct {
	Dir      string // the record.dir setting: files go in Dir/YYYY-MM-DD/
	MaxBytes int64  // the file's size limit; past it the recording stops
	Session  int    // the session's ID, for the file name
	// User, OSAccount and Remote name the session in the file's title;
	// User is in the file name too.
	User, OSAccount, Remote string
	Term                    string // TERM, in the header's env
	Cols, Rows              int    // the window size at the start
	Start                   time.Time
	// Stopped, if not nil, is called once, from the Recorder's goroutine,
	// when the recording stops before Close: why says what happened.
	Stopped func(why string)
}

// Sizes of the buffers.
const (
	// pendCap is how much traffic may wait for the writer before the
	// data path waits for it: several of the bridge's 32 KiB batches.
	pendCap = 256 << 10
	// wakeAt is how much pending traffic wakes the writer at once; less
	// waits for it up to batchDelay, so that a flow of output costs the
	// writer a wake-up per wakeAt rather than per read of the terminal.
	wakeAt = 96 << 10
	// flushAt is when the writer writes what it has encoded so far.
	flushAt = 128 << 10
	// markerRoom is kept free below MaxBytes for the final marker.
	markerRoom = 256
	// frameHeader is an event's framing in the pending buffer: kind,
	// nanoseconds since the start, data length.
	frameHeader = 1 + 8 + 4
)

// Consecutive output within coalesceWithin of the frame before it, and
// while that frame is under coalesceMax bytes, joins that frame: one
// asciicast event instead of one per read of the terminal. A bulk of text
// comes in reads of a few lines; framing, timing and encoding each as an
// event of its own cost more than its bytes. A replay cannot tell 2 ms
// apart.
const (
	coalesceWithin = 2 * time.Millisecond
	coalesceMax    = 64 << 10
)

// batchDelay is how long the writer lets events gather before it writes
// them: what a replay or a crash can miss of a session's last moment.
const batchDelay = 20 * time.Millisecond

// stallLimit bounds how long the data path waits for a writer that is a
// full buffer behind (a hung disk); then the recording stops. A variable
// for tests.
var stallLimit = 2 * time.Second

// bufs holds the pending and encoding buffers while traffic flows, so an
// idle session's recorder holds none.
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, pendCap); return &b }}

// Recorder records one session. Output, Input and Resize are safe for
// concurrent use; Close ends the recording.
type Recorder struct {
	path   string
	f      *os.File
	start  time.Time
	max    int64
	onStop func(string)
	off    atomic.Bool // stopped: the data path has nothing to do
	once   sync.Once   // onStop is called once

	mu   sync.Mutex
	pend *[]byte // framed events for the writer; nil when none wait
	// lastOut is where the last frame in pend starts when it is output
	// (-1 when pend is empty or its last frame is not output), and
	// lastAt its time: what coalescing looks at.
	lastOut int
	lastAt  time.Duration
	// spare is the buffer the writer emptied last, kept while output
	// flows (batches of wakeAt and more) and given back to bufs after.
	spare *[]byte
	// room is closed when the writer takes the pending events, for the
	// waiters there are (waiting counts them).
	room    chan struct{}
	waiting int
	why     string // why the recording stopped; "" while it records

	stall   *time.Timer // the data path's wait (under mu: one waiter times)
	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}

	// The writer goroutine's own.
	written int64
	marked  bool      // the final marker is written
	carry   [2][]byte // per stream (output, input): a character cut short
	joined  []byte
}

// Create makes the recording's file, writes its header, and starts
// recording.
func Create(o Options) (*Recorder, error) {
	f, path, err := createFile(o)
	if err != nil {
		return nil, err
	}
	return start(f, path, o)
}

// start writes the header to f and starts the writer.
func start(f *os.File, path string, o Options) (*Recorder, error) {
	r := &Recorder{
		path: path, f: f, start: o.Start, max: o.MaxBytes, onStop: o.Stopped,
		wake: make(chan struct{}, 1), room: make(chan struct{}),
		closing: make(chan struct{}), done: make(chan struct{}),
	}
	hdr, err := header(o)
	if err == nil {
		_, err = f.Write(hdr)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("write recording %s: %w", path, err)
	}
	r.written = int64(len(hdr))
	go r.writer()
	return r, nil
}

// Path returns the recording's file.
func (r *Recorder) Path() string { return r.path }

// createFile makes Dir (0700) when missing, checks that only root (or the
// daemon's user) can change it, makes the day's directory (0700), and
// creates the file (0600) under a name not yet taken.
func createFile(o Options) (*os.File, string, error) {
	if !filepath.IsAbs(o.Dir) {
		return nil, "", fmt.Errorf("recording directory %q is not absolute", o.Dir)
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("make recording directory: %w", err)
	}
	if err := trustedfile.CheckDir(o.Dir); err != nil {
		return nil, "", fmt.Errorf("recording directory %s: %w", o.Dir, err)
	}
	day := filepath.Join(o.Dir, o.Start.Format("2006-01-02"))
	if err := os.Mkdir(day, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return nil, "", fmt.Errorf("make recording directory: %w", err)
	}
	if fi, err := os.Lstat(day); err != nil {
		return nil, "", fmt.Errorf("recording directory: %w", err)
	} else if !fi.IsDir() {
		return nil, "", fmt.Errorf("recording directory %s is not a directory", day)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
		return nil, "", fmt.Errorf("recording directory %s belongs to uid %d, not the daemon's (%d)", day, st.Uid, os.Geteuid())
	}
	base := fmt.Sprintf("%d-%s-%s", o.Session, fileSafe(o.User), o.Start.Format("150405"))
	for i := 1; ; i++ {
		name := base + ".cast"
		if i > 1 {
			name = fmt.Sprintf("%s-%d.cast", base, i) // a restarted daemon counts IDs from 1 again
		}
		path := filepath.Join(day, name)
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0o600)
		if errors.Is(err, os.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("create recording: %w", err)
		}
		return f, path, nil
	}
}

// fileSafe keeps a user name to the characters that are safe in a file
// name (user names are checked at logon; this is a second fence).
func fileSafe(s string) string {
	s = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, s)
	if s == "" || s[0] == '.' {
		s = "_" + s
	}
	return s
}

// header is the file's first line.
func header(o Options) ([]byte, error) {
	cols, rows := o.Cols, o.Rows
	if cols <= 0 || rows <= 0 {
		cols, rows = 80, 24
	}
	term := o.Term
	if term == "" {
		term = "dumb"
	}
	h := struct {
		Version   int               `json:"version"`
		Width     int               `json:"width"`
		Height    int               `json:"height"`
		Timestamp int64             `json:"timestamp"`
		Env       map[string]string `json:"env"`
		Title     string            `json:"title"`
	}{2, cols, rows, o.Start.Unix(), map[string]string{"TERM": term},
		fmt.Sprintf("tlntsvr session %d: %s (OS account %s) from %s", o.Session, o.User, o.OSAccount, o.Remote)}
	b, err := json.Marshal(h)
	return append(b, '\n'), err
}

// Event kinds, as asciicast names them.
const (
	kindOutput = 'o'
	kindInput  = 'i'
	kindResize = 'r'
)

// Output records what the shell wrote, as the client gets it.
func (r *Recorder) Output(p []byte) { r.add(kindOutput, p, 0, 0) }

// Input records what the user typed. The caller gives only what was typed
// while the terminal echoed.
func (r *Recorder) Input(p []byte) { r.add(kindInput, p, 0, 0) }

// Resize records a change of the window size.
func (r *Recorder) Resize(cols, rows int) { r.add(kindResize, nil, cols, rows) }

// add frames an event into the pending buffer and wakes the writer. It
// waits (stallLimit at most) only when the buffer is full.
func (r *Recorder) add(kind byte, p []byte, cols, rows int) {
	if r.off.Load() || (len(p) == 0 && kind != kindResize) {
		return
	}
	size := frameHeader + len(p)
	if kind == kindResize {
		size = frameHeader + 8
	}
	r.mu.Lock()
	for r.pend != nil && len(*r.pend)+size > pendCap {
		if !r.waitRoom() {
			r.mu.Unlock()
			return
		}
	}
	if r.why != "" {
		r.mu.Unlock()
		return
	}
	first := r.pend == nil
	if first {
		if r.pend, r.spare = r.spare, nil; r.pend == nil {
			r.pend = bufs.Get().(*[]byte)
		}
		r.lastOut = -1
	}
	at := time.Since(r.start)
	if kind == kindOutput && r.lastOut >= 0 && at-r.lastAt < coalesceWithin {
		b := *r.pend
		if n := binary.LittleEndian.Uint32(b[r.lastOut+9:]); n < coalesceMax {
			b = append(b, p...)
			binary.LittleEndian.PutUint32(b[r.lastOut+9:], n+uint32(len(p)))
			*r.pend = b
			r.mu.Unlock()
			if len(b) >= wakeAt {
				select {
				case r.wake <- struct{}{}:
				default:
				}
			}
			return
		}
	}
	r.lastOut = -1
	if kind == kindOutput {
		r.lastOut, r.lastAt = len(*r.pend), at
	}
	b := append(*r.pend, kind)
	b = binary.LittleEndian.AppendUint64(b, uint64(at))
	if kind == kindResize {
		b = binary.LittleEndian.AppendUint32(b, 8)
		b = binary.LittleEndian.AppendUint32(b, uint32(cols))
		b = binary.LittleEndian.AppendUint32(b, uint32(rows))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	*r.pend = b
	r.mu.Unlock()
	if first || len(b) >= wakeAt {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// waitRoom, called and returning with mu held, waits for the writer to
// take the pending events, and reports whether it did within stallLimit
// and the recording goes on; if not, the recording stops.
func (r *Recorder) waitRoom() bool {
	room := r.room
	r.waiting++
	if r.stall == nil {
		r.stall = time.NewTimer(stallLimit)
	} else {
		r.stall.Reset(stallLimit)
	}
	stall := r.stall
	r.mu.Unlock()
	timedOut := false
	select {
	case <-room:
	case <-stall.C:
		timedOut = true
	}
	r.mu.Lock()
	r.waiting--
	stall.Stop()
	if timedOut {
		r.stopLocked(fmt.Sprintf("the disk did not keep up with the session's output for %v", stallLimit))
	}
	return r.why == ""
}

// stopLocked, with mu held, ends the recording early: nothing more is
// taken, the writer writes a final marker saying why, and Options.Stopped
// is told (from a goroutine of its own: the writer may be stuck).
func (r *Recorder) stopLocked(why string) {
	if r.why != "" {
		return
	}
	r.why = why
	r.off.Store(true)
	if r.pend != nil {
		*r.pend = (*r.pend)[:0]
		bufs.Put(r.pend)
		r.pend = nil
	}
	r.freeWaiters()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	if r.onStop != nil {
		go r.once.Do(func() { r.onStop(why) })
	}
}

// freeWaiters, with mu held, lets the data path's waiters go on.
func (r *Recorder) freeWaiters() {
	if r.waiting > 0 {
		close(r.room)
		r.room = make(chan struct{})
	}
}

// closeWait bounds how long Close waits for the writer: a write stuck on
// a hung disk must not hold up the end of the session (the writer
// finishes, and closes the file, whenever the write returns).
const closeWait = 5 * time.Second

// Close ends the recording: what is pending is written and the file
// closed. A recording that stopped early was told to Options.Stopped.
func (r *Recorder) Close() {
	r.mu.Lock()
	select {
	case <-r.closing:
	default:
		close(r.closing)
	}
	r.mu.Unlock()
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-r.done:
	case <-t.C:
	}
}

// writer encodes and writes the pending events until Close.
func (r *Recorder) writer() {
	defer close(r.done)
	defer r.f.Close()
	delay := time.NewTimer(batchDelay)
	delay.Stop()
	for {
		var last bool
		select {
		case <-r.wake:
		case <-r.closing:
			last = true
		}
		if !last && r.pendingLess(wakeAt) {
			// Let more gather, unless a full batch or Close comes first.
			delay.Reset(batchDelay)
			select {
			case <-delay.C:
			case <-r.wake:
			case <-r.closing:
				last = true
			}
			delay.Stop()
		}
		r.mu.Lock()
		batch := r.pend
		r.pend = nil
		r.freeWaiters()
		r.mu.Unlock()
		if batch != nil {
			r.writeBatch(*batch)
		}
		r.mu.Lock()
		why := r.why
		if batch != nil {
			flowing := len(*batch) >= wakeAt
			*batch = (*batch)[:0]
			if flowing && r.spare == nil && why == "" {
				r.spare = batch
			} else {
				bufs.Put(batch)
			}
			if !flowing && r.spare != nil {
				bufs.Put(r.spare)
				r.spare = nil
			}
		}
		r.mu.Unlock()
		if why != "" && !r.marked {
			r.marked = true
			r.writeMarker(why)
		}
		if last {
			return
		}
	}
}

// pendingLess reports whether fewer than n bytes of events are pending
// and the recording goes on.
func (r *Recorder) pendingLess(n int) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.why == "" && (r.pend == nil || len(*r.pend) < n)
}

// writeBatch encodes framed events as asciicast lines and writes them.
func (r *Recorder) writeBatch(b []byte) {
	encp := bufs.Get().(*[]byte)
	enc := (*encp)[:0]
	defer func() {
		*encp = enc[:0]
		bufs.Put(encp)
	}()
	for len(b) >= frameHeader {
		kind := b[0]
		at := time.Duration(binary.LittleEndian.Uint64(b[1:]))
		n := int(binary.LittleEndian.Uint32(b[9:]))
		data := b[frameHeader : frameHeader+n]
		b = b[frameHeader+n:]
		mark := len(enc)
		switch kind {
		case kindResize:
			enc = appendResize(enc, at, binary.LittleEndian.Uint32(data), binary.LittleEndian.Uint32(data[4:]))
		default:
			stream := 0
			if kind == kindInput {
				stream = 1
			}
			data = r.whole(stream, data)
			if len(data) == 0 {
				continue
			}
			enc = appendEvent(enc, at, kind, data)
		}
		if r.written+int64(len(enc)) > r.max-markerRoom {
			enc = enc[:mark]
			r.flush(enc)
			r.mu.Lock()
			r.stopLocked(fmt.Sprintf("the recording reached record.max_bytes (%d bytes)", r.max))
			r.mu.Unlock()
			return
		}
		if len(enc) >= flushAt {
			if !r.flush(enc) {
				return
			}
			enc = enc[:0]
		}
	}
	r.flush(enc)
}

// flush writes enc and reports whether the recording goes on.
func (r *Recorder) flush(enc []byte) bool {
	if len(enc) == 0 {
		return true
	}
	n, err := r.f.Write(enc)
	r.written += int64(n)
	if err != nil {
		r.mu.Lock()
		r.stopLocked(fmt.Sprintf("writing the recording failed: %v", err))
		r.mu.Unlock()
		return false
	}
	return true
}

// writeMarker writes the final marker event (asciicast "m"), which says
// why the recording stops; players skip it, and it is the file's last line.
func (r *Recorder) writeMarker(why string) {
	line := appendMarker(nil, time.Since(r.start), "tlntsvr: recording stopped: "+why)
	n, _ := r.f.Write(line)
	r.written += int64(n)
}

// whole returns data with the start of a character that the previous
// event of the stream cut short put back in front, and keeps the start
// of one that this event cuts short for the next: a character split
// between two reads is written whole, as the terminal shows it.
func (r *Recorder) whole(stream int, data []byte) []byte {
	if c := r.carry[stream]; len(c) > 0 {
		r.joined = append(append(r.joined[:0], c...), data...)
		data = r.joined
		r.carry[stream] = c[:0]
	}
	if t := cutTail(data); t > 0 {
		r.carry[stream] = append(r.carry[stream][:0], data[len(data)-t:]...)
		data = data[:len(data)-t]
	}
	return data
}
