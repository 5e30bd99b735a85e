//go:build linux

package ports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Live takes a snapshot of this machine's sockets from /proc: the socket
// tables of the caller's network namespace (/proc/net/{tcp,tcp6,udp,udp6}),
// then each process's fd table (/proc/PID/fd, socket:[inode] links) to find
// the owners, then image, path, start time and systemd service per owner.
// Sockets no process holds (TIME_WAIT) are left out. Sockets whose owner
// cannot be found (a process the caller may not inspect, or one that ended
// during the scan) are kept with PID UnknownPID, since their port is taken
// all the same; run as root to see every owner.
func Live(ctx context.Context) (*Snapshot, error) {
	return liveProc(ctx, "/proc", time.Now, true)
}

// LiveFacts reads the port-space settings of the running system. They are
// Windows settings (registry, netsh), so on Linux it returns ErrUnsupported.
func LiveFacts(context.Context) (*Facts, error) {
	return nil, fmt.Errorf("live port settings: %w (they are Windows registry and netsh values; run the collector there and pass the folder)", ErrUnsupported)
}

// liveProc builds the snapshot; with netlink false, or when sock_diag
// fails for a table, the socket tables come from root/net/*.
func liveProc(ctx context.Context, root string, now func() time.Time, netlink bool) (*Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	snap := &Snapshot{Taken: now(), Source: "live", Processes: map[int]*Process{}}
	buf := make([]byte, 0, 1<<20)
	var socks []diagSocket
	for _, t := range []struct {
		name    string
		proto   Protocol
		family  uint8
		ipProto uint8
	}{
		{"tcp", TCP, unix.AF_INET, unix.IPPROTO_TCP},
		{"tcp6", TCP, unix.AF_INET6, unix.IPPROTO_TCP},
		{"udp", UDP, unix.AF_INET, unix.IPPROTO_UDP},
		{"udp6", UDP, unix.AF_INET6, unix.IPPROTO_UDP},
	} {
		if netlink {
			if ds, err := sockDiag(t.family, t.ipProto); err == nil {
				for _, d := range ds {
					if d.inode != 0 {
						socks = append(socks, d)
					}
				}
				continue
			}
		}
		data, err := readProcFile(filepath.Join(root, "net", t.name), buf[:0])
		if errors.Is(err, os.ErrNotExist) && strings.HasSuffix(t.name, "6") {
			continue // IPv6 disabled
		}
		if err != nil {
			return nil, fmt.Errorf("read socket table: %w", err)
		}
		buf = data[:0]
		err = parseProcNet(data, t.proto, func(b Binding, inode uint64) {
			if inode != 0 {
				socks = append(socks, diagSocket{b, inode})
			}
		})
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", filepath.Join(root, "net", t.name), err)
		}
	}
	owners := make(map[uint64]int, len(socks))
	for _, s := range socks {
		owners[s.inode] = -1
	}
	if err := scanSocketOwners(ctx, root, owners); err != nil {
		return nil, err
	}
	snap.Bindings = make([]Binding, 0, len(socks))
	for _, s := range socks {
		pid := owners[s.inode]
		if pid < 0 {
			pid = UnknownPID
		}
		s.b.PID = pid
		snap.Bindings = append(snap.Bindings, s.b)
		if _, ok := snap.Processes[pid]; !ok && pid != UnknownPID {
			snap.Processes[pid] = procInfo(root, pid)
		}
	}
	bootTime := readBootTime(root)
	for _, p := range snap.Processes {
		if !bootTime.IsZero() {
			p.Started = procStart(root, p.PID, bootTime)
		}
	}
	sortBindings(snap.Bindings)
	return snap, nil
}

// readProcFile reads a /proc file with large reads: the kernel regenerates
// /proc/net/* from the start of its hash walk for every read call, so small
// reads make a big table quadratic.
func readProcFile(path string, buf []byte) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if cap(buf) < 64<<10 {
		buf = make([]byte, 0, 64<<10)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// scanSocketOwners fills owners (inode → PID, -1 while unknown) by reading
// the fd links of every process, stopping as soon as every socket has an
// owner. Processes that vanish or deny access are skipped.
func scanSocketOwners(ctx context.Context, root string, owners map[uint64]int) error {
	left := len(owners)
	if left == 0 {
		return nil
	}
	d, err := os.Open(root)
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	dirents := make([]byte, 32<<10)
	link := make([]byte, 64)
	var fdNames []string
	for i, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		if i%64 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		fd, err := unix.Open(root+"/"+name+"/fd", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		for {
			n, err := unix.Getdents(fd, dirents)
			if err != nil || n <= 0 {
				break
			}
			fdNames = fdNames[:0]
			_, _, fdNames = unix.ParseDirent(dirents[:n], -1, fdNames)
			for _, fdName := range fdNames {
				ln, err := unix.Readlinkat(fd, fdName, link)
				if err != nil {
					continue
				}
				inode, ok := socketInode(link[:ln])
				if !ok {
					continue
				}
				if owner, want := owners[inode]; want && owner < 0 {
					owners[inode] = pid
					if left--; left == 0 {
						unix.Close(fd)
						return nil
					}
				}
			}
		}
		unix.Close(fd)
	}
	return nil
}

// procInfo reads what /proc tells about a process; fields it cannot read
// stay empty.
func procInfo(root string, pid int) *Process {
	dir := root + "/" + strconv.Itoa(pid)
	p := &Process{PID: pid}
	if exe, err := os.Readlink(dir + "/exe"); err == nil {
		p.Path = strings.TrimSuffix(exe, " (deleted)")
		p.Image = filepath.Base(p.Path)
	}
	if p.Image == "" {
		if comm, err := os.ReadFile(dir + "/comm"); err == nil {
			p.Image = strings.TrimSpace(string(comm))
		}
	}
	if cg, err := os.ReadFile(dir + "/cgroup"); err == nil {
		if unit := systemdService(cg); unit != "" {
			p.Services = []string{unit}
		}
	}
	return p
}

// systemdService finds the service unit in /proc/PID/cgroup
// ("0::/system.slice/ssh.service").
func systemdService(cgroup []byte) string {
	for _, line := range bytes.Split(cgroup, []byte("\n")) {
		i := bytes.LastIndexByte(line, '/')
		if i < 0 {
			continue
		}
		if unit := string(line[i+1:]); strings.HasSuffix(unit, ".service") {
			return unit
		}
	}
	return ""
}

// userHZ is the unit of /proc/PID/stat times. The kernel exports USER_HZ,
// which is 100 on every architecture Go supports on Linux.
const userHZ = 100

func readBootTime(root string) time.Time {
	data, err := os.ReadFile(root + "/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(sec, 0)
			}
		}
	}
	return time.Time{}
}

// procStart reads field 22 (starttime, in clock ticks after boot) of
// /proc/PID/stat. The command name in field 2 may hold spaces and
// parentheses, so fields are counted from the last ')'.
func procStart(root string, pid int, boot time.Time) time.Time {
	data, err := os.ReadFile(root + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return time.Time{}
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return time.Time{}
	}
	f := strings.Fields(string(data[i+1:]))
	const startField = 22 - 3 // fields after ")" start at field 3
	if len(f) <= startField {
		return time.Time{}
	}
	ticks, err := strconv.ParseUint(f[startField], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return boot.Add(time.Duration(ticks) * time.Second / userHZ)
}
