// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `vps-ct spec`: the default config.json other runtimes write for a new
 * bundle -- an `sh` in a busybox-style rootfs with every namespace but
 * user and network's peers, the usual /proc, /dev, /sys mounts, the
 * masked and read-only paths of the runtime-spec examples and the default
 * capability set. The text is ours; its content follows the spec.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/util.h"
#include "ct/spec.h"

#define CAPS "[\"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\"]"

static const char default_spec[] =
	"{\n"
	"  \"ociVersion\": \"1.0.2\",\n"
	"  \"process\": {\n"
	"    \"terminal\": true,\n"
	"    \"user\": { \"uid\": 0, \"gid\": 0 },\n"
	"    \"args\": [\"sh\"],\n"
	"    \"env\": [\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
	"            \"TERM=xterm\"],\n"
	"    \"cwd\": \"/\",\n"
	"    \"capabilities\": {\n"
	"      \"bounding\": " CAPS ",\n"
	"      \"effective\": " CAPS ",\n"
	"      \"permitted\": " CAPS "\n"
	"    },\n"
	"    \"rlimits\": [{ \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 }],\n"
	"    \"noNewPrivileges\": true\n"
	"  },\n"
	"  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
	"  \"hostname\": \"vps-ct\",\n"
	"  \"mounts\": [\n"
	"    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
	"    { \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
	"      \"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"] },\n"
	"    { \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
	"      \"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\",\n"
	"                  \"mode=0620\", \"gid=5\"] },\n"
	"    { \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"] },\n"
	"    { \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\"] },\n"
	"    { \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"] },\n"
	"    { \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
	"      \"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"] }\n"
	"  ],\n"
	"  \"linux\": {\n"
	"    \"namespaces\": [{ \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" },\n"
	"                   { \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" }],\n"
	"    \"maskedPaths\": [\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
	"                    \"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"
	"                    \"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"],\n"
	"    \"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\",\n"
	"                      \"/proc/sysrq-trigger\"]\n"
	"  }\n"
	"}\n";

const char *ct_spec_default(void)
{
	return default_spec;
}

int ct_spec_write(const char *bundle, struct err **err)
{
	_cleanup_free_ char *path = NULL;
	_cleanup_close_ int fd = -1;

	if (asprintf(&path, "%s/config.json", bundle) < 0)
		return err_make(err, ENOMEM, "spec");
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return err_make(err, errno, "create `%s`", path);
	if (write_all(fd, default_spec, strlen(default_spec)) < 0)
		return err_make(err, errno, "write `%s`", path);
	return 0;
}
