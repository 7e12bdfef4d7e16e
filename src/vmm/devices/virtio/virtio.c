// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The transport-independent virtio device: status, features, queues and the
 * list of device models. See virtio.h. Callers (the transports) serialize
 * calls for one device; nothing here locks but the I/O thread's handler of a
 * doorbell, which takes the device lock as a transport would.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/log.h"
#include "vmm/devices/virtio/virtio.h"
#include "vmm/snapshot.h"

/* Every device model. A model missing here cannot be configured. */
const struct virtio_dev_ops *const virtio_dev_types[] = {
	&virtio_blk_ops,     &virtio_rng_ops,  &virtio_net_ops,
	&virtio_balloon_ops, &virtio_scsi_ops, NULL,
};

/* Transport features every device gets: §6 (and §2.7.5.3, §2.7.10). */
#define VIRTIO_TRANSPORT_FEATURES                                    \
	(BIT_ULL(VIRTIO_F_VERSION_1) | BIT_ULL(VIRTIO_F_EVENT_IDX) | \
	 BIT_ULL(VIRTIO_F_INDIRECT_DESC))

const struct virtio_dev_ops *virtio_dev_type_find(const char *name)
{
	unsigned int i;

	for (i = 0; virtio_dev_types[i]; i++)
		if (!strcmp(virtio_dev_types[i]->name, name))
			return virtio_dev_types[i];
	return NULL;
}

static void reset_queues(struct virtio_dev *vdev)
{
	unsigned int i;

	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		virtq_reset(&vdev->vqs[i], i < vdev->num_queues ? vdev->ops->queue_max_size : 0);
}

/* The I/O thread: queue q's doorbell rang. */
static void kick_ready(void *opaque, int fd, uint32_t events)
{
	struct virtio_kick *k = opaque;
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) < 0)
		return; /* EAGAIN: served already */
	pthread_mutex_lock(&k->vdev->lock);
	k->vdev->counters.kicks += n;
	virtio_dev_queue_notify(k->vdev, k->q);
	pthread_mutex_unlock(&k->vdev->lock);
}

static void close_kicks(struct virtio_dev *vdev)
{
	unsigned int q;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		if (vdev->kick_fd[q] >= 0)
			close(vdev->kick_fd[q]);
		vdev->kick_fd[q] = -1;
	}
}

/* The I/O thread and a doorbell per queue, before the model (which may add to the loop). */
static int io_init(struct virtio_dev *vdev)
{
	unsigned int q;
	int r;

	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vdev->kick_fd[q] = -1;
	r = iothread_init(&vdev->io, vdev->ops->name);
	if (r < 0)
		return r;
	/* a doorbell for each queue the model may offer; init may offer fewer */
	for (q = 0; q < vdev->ops->num_queues && r == 0; q++) {
		vdev->kick[q] = (struct virtio_kick){ .vdev = vdev, .q = q };
		vdev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		r = vdev->kick_fd[q] < 0 ? -errno :
					   iothread_add(&vdev->io, vdev->kick_fd[q], EPOLLIN,
							kick_ready, &vdev->kick[q]);
	}
	if (r < 0) {
		close_kicks(vdev);
		iothread_destroy(&vdev->io);
	}
	return r;
}

int virtio_dev_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		    const struct guest_mem *mem, const void *params)
{
	int r;

	if (ops->num_queues > VIRTIO_MAX_QUEUES || ops->config_size > VIRTIO_CONFIG_MAX ||
	    !ops->queue_max_size || ops->queue_max_size > VIRTQ_MAX_SIZE)
		return -EINVAL;
	memset(vdev, 0, sizeof(*vdev));
	pthread_mutex_init(&vdev->lock, NULL); /* before init: a model may start threads */
	vdev->ops = ops;
	vdev->mem = mem;
	vdev->host_features = ops->features | VIRTIO_TRANSPORT_FEATURES;
	vdev->num_queues = ops->num_queues;
	reset_queues(vdev);
	r = io_init(vdev);
	if (r == 0 && ops->init) {
		r = ops->init(vdev, params);
		if (r == 0 && (!vdev->num_queues || vdev->num_queues > ops->num_queues)) {
			if (ops->uninit)
				ops->uninit(vdev);
			r = -EINVAL;
		}
		if (r == 0)
			reset_queues(vdev); /* the model may have offered fewer queues */
		if (r < 0) {
			close_kicks(vdev);
			iothread_destroy(&vdev->io);
		}
	}
	if (r < 0) {
		pthread_mutex_destroy(&vdev->lock);
		vdev->ops = NULL;
	}
	return r;
}

int virtio_dev_start(struct virtio_dev *vdev)
{
	return iothread_start(&vdev->io);
}

void virtio_dev_uninit(struct virtio_dev *vdev)
{
	if (!vdev->ops)
		return;
	iothread_stop(&vdev->io); /* nothing runs device code after this */
	if (vdev->ops->uninit)
		vdev->ops->uninit(vdev);
	vdev->priv = NULL;
	close_kicks(vdev);
	iothread_destroy(&vdev->io);
	pthread_mutex_destroy(&vdev->lock);
	vdev->ops = NULL;
}

void virtio_dev_kick(struct virtio_dev *vdev, unsigned int q)
{
	uint64_t one = 1;

	if (q >= vdev->num_queues)
		return;
	if (!vdev->kick_async) {
		virtio_dev_queue_notify(vdev, q);
		return;
	}
	vdev->counters.kicks_forwarded++;
	if (write(vdev->kick_fd[q], &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_ratelimited(LOG_WARN, "virtio-%s: kick queue %u: %s", vdev->ops->name, q,
			       strerror(errno));
}

void virtio_dev_reset(struct virtio_dev *vdev)
{
	if (vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->status = 0;
	vdev->guest_features = 0;
	reset_queues(vdev);
}

void virtio_dev_set_status(struct virtio_dev *vdev, uint8_t val)
{
	uint8_t old = vdev->status;
	const uint8_t drv = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	if (val == 0) {
		virtio_dev_reset(vdev);
		return;
	}
	/* NEEDS_RESET is ours; the driver writing status back must not clear it. */
	val |= old & VIRTIO_STATUS_NEEDS_RESET;
	if (old & ~val) {
		pr_ratelimited(LOG_WARN, "virtio-%s: driver cleared status bits %#x without reset",
			       vdev->ops->name, old & ~val);
		return;
	}
	if ((val & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t g = vdev->guest_features;

		/* §3.1.1 step 5-6: we refuse by leaving FEATURES_OK clear. */
		if ((g & ~vdev->host_features) || !(g & BIT_ULL(VIRTIO_F_VERSION_1)) ||
		    (val & drv) != drv) {
			pr_ratelimited(LOG_WARN, "virtio-%s: refusing features %#llx",
				       vdev->ops->name, (unsigned long long)g);
			val &= ~VIRTIO_STATUS_FEATURES_OK;
		}
	}
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(val & VIRTIO_STATUS_FEATURES_OK)) {
		pr_ratelimited(LOG_WARN, "virtio-%s: DRIVER_OK before FEATURES_OK",
			       vdev->ops->name);
		val &= ~VIRTIO_STATUS_DRIVER_OK;
	}
	vdev->status = val;
	/*
	 * Some drivers queue buffers and notify before DRIVER_OK (Linux's
	 * balloon primes its statistics queue in probe). Such a notification
	 * was ignored above; serve what is waiting now, as if it came again.
	 */
	if ((val & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		unsigned int q;

		for (q = 0; q < vdev->num_queues; q++)
			if (vdev->vqs[q].ready)
				virtio_dev_kick(vdev, q);
	}
}

void virtio_dev_set_guest_features(struct virtio_dev *vdev, unsigned int sel, uint32_t val)
{
	/* §2.2.2: features are fixed once FEATURES_OK is set. */
	if (vdev->status & VIRTIO_STATUS_FEATURES_OK)
		return;
	if (sel == 0)
		vdev->guest_features = (vdev->guest_features & ~0xffffffffULL) | val;
	else if (sel == 1)
		vdev->guest_features = (vdev->guest_features & 0xffffffffULL) | (uint64_t)val << 32;
}

int virtio_dev_queue_enable(struct virtio_dev *vdev, unsigned int q)
{
	uint64_t g = vdev->guest_features;
	int r;

	if (q >= vdev->num_queues)
		return -EINVAL;
	/* §3.1.1: queues are set up after the features are agreed. */
	if (!(vdev->status & VIRTIO_STATUS_FEATURES_OK)) {
		pr_ratelimited(LOG_WARN, "virtio-%s: queue enabled before FEATURES_OK",
			       vdev->ops->name);
		return -EINVAL;
	}
	r = virtq_enable(&vdev->vqs[q], vdev->mem, g & BIT_ULL(VIRTIO_F_EVENT_IDX),
			 g & BIT_ULL(VIRTIO_F_INDIRECT_DESC));
	if (r < 0)
		virtio_dev_needs_reset(vdev);
	return r;
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	vdev->config_generation++;
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->transport)
		vdev->transport->signal(vdev, VIRTIO_SIGNAL_CONFIG, 0);
}

void virtio_dev_needs_reset(struct virtio_dev *vdev)
{
	if (vdev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vdev->status |= VIRTIO_STATUS_NEEDS_RESET;
	/* §2.1.2: with DRIVER_OK set, tell the driver through a config change. */
	if ((vdev->status & VIRTIO_STATUS_DRIVER_OK) && vdev->transport)
		vdev->transport->signal(vdev, VIRTIO_SIGNAL_CONFIG, 0);
}

void virtio_dev_queue_done(struct virtio_dev *vdev, unsigned int q)
{
	if (virtq_should_signal(&vdev->vqs[q]) && vdev->transport)
		vdev->transport->signal(vdev, VIRTIO_SIGNAL_QUEUE, q);
}

void virtio_dev_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtq *vq;

	if (q >= vdev->num_queues)
		return;
	vq = &vdev->vqs[q];
	if (!(vdev->status & VIRTIO_STATUS_DRIVER_OK) ||
	    (vdev->status & VIRTIO_STATUS_NEEDS_RESET) || !vq->ready)
		return;
	vdev->ops->notify(vdev, q);
	/* Whatever the model completed before the queue broke still counts. */
	virtio_dev_queue_done(vdev, q);
	if (vq->broken)
		virtio_dev_needs_reset(vdev);
}

void virtio_config_put16(struct virtio_dev *vdev, unsigned int off, uint16_t v)
{
	v = htole16(v);
	memcpy(vdev->config + off, &v, sizeof(v));
}

void virtio_config_put32(struct virtio_dev *vdev, unsigned int off, uint32_t v)
{
	v = htole32(v);
	memcpy(vdev->config + off, &v, sizeof(v));
}

void virtio_config_put64(struct virtio_dev *vdev, unsigned int off, uint64_t v)
{
	v = htole64(v);
	memcpy(vdev->config + off, &v, sizeof(v));
}

/* The saved form of one queue and of the device (snapshot.h); fixed layout. */
struct vq_state {
	uint64_t desc, avail, used;
	uint16_t size, last_avail, used_idx, signalled_used;
	uint8_t ready, broken, signalled_valid, pad[5];
};

struct vdev_state {
	uint64_t host_features, guest_features;
	uint16_t device_id, num_queues;
	uint8_t status, config_generation, pad[2];
	struct vq_state q[];
};

#define VIRTIO_MODEL_STATE_MAX 4096

void virtio_dev_save_locked(struct virtio_dev *vdev, struct snap_w *w, uint32_t id)
{
	unsigned int n = vdev->ops->num_queues, q;
	size_t len = sizeof(struct vdev_state) + n * sizeof(struct vq_state);
	struct vdev_state *st = calloc(1, len);
	uint8_t model[VIRTIO_MODEL_STATE_MAX];

	if (!st) {
		w->err = -ENOMEM;
		return;
	}
	st->host_features = vdev->host_features;
	st->guest_features = vdev->guest_features;
	st->device_id = vdev->ops->device_id;
	st->num_queues = n;
	st->status = vdev->status;
	st->config_generation = vdev->config_generation;
	for (q = 0; q < n; q++) {
		const struct virtq *vq = &vdev->vqs[q];

		st->q[q] = (struct vq_state){
			.desc = vq->desc_gpa,
			.avail = vq->avail_gpa,
			.used = vq->used_gpa,
			.size = vq->size,
			.last_avail = vq->last_avail,
			.used_idx = vq->used_idx,
			.signalled_used = vq->signalled_used,
			.ready = vq->ready,
			.broken = vq->broken,
			.signalled_valid = vq->signalled_valid,
		};
	}
	snap_put(w, SNAP_VIRTIO, id, st, len);
	free(st);
	if (vdev->ops->state_save)
		snap_put(w, SNAP_VIRTIO_MODEL, id, model,
			 vdev->ops->state_save(vdev, model, sizeof(model)));
}

int virtio_dev_load_locked(struct virtio_dev *vdev, const struct snap_r *r, uint32_t id,
			   struct err **err)
{
	unsigned int n = vdev->ops->num_queues, q;
	size_t len = sizeof(struct vdev_state) + n * sizeof(struct vq_state), mlen;
	const struct vdev_state *st = snap_get(r, SNAP_VIRTIO, id, len, err);
	const void *model;
	uint8_t status;

	if (!st)
		return -EINVAL;
	if (st->device_id != vdev->ops->device_id || st->num_queues != n)
		return err_make(err, EINVAL,
				"snapshot state: the device in slot %u was virtio id %u with %u "
				"queues, here it is virtio-%s",
				id, st->device_id, st->num_queues, vdev->ops->name);
	if (st->host_features != vdev->host_features)
		return err_make(err, EINVAL,
				"snapshot state: virtio-%s in slot %u offered features %#llx, this "
				"one offers %#llx",
				vdev->ops->name, id, (unsigned long long)st->host_features,
				(unsigned long long)vdev->host_features);
	status = st->status;
	if ((st->guest_features & ~vdev->host_features) ||
	    ((status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_FEATURES_OK)))
		return err_make(err, EINVAL,
				"snapshot state: virtio-%s in slot %u: features or status the "
				"device never accepts",
				vdev->ops->name, id);
	vdev->guest_features = st->guest_features;
	vdev->status = status;
	vdev->config_generation = st->config_generation;
	for (q = 0; q < n; q++) {
		const struct vq_state *s = &st->q[q];
		struct virtq *vq = &vdev->vqs[q];

		vq->size = s->size;
		vq->desc_gpa = s->desc;
		vq->avail_gpa = s->avail;
		vq->used_gpa = s->used;
		if (!s->ready)
			continue;
		/* the same checks as the driver's queue_enable: size, alignment, inside RAM */
		if (virtq_enable(vq, vdev->mem, vdev->guest_features & BIT_ULL(VIRTIO_F_EVENT_IDX),
				 vdev->guest_features & BIT_ULL(VIRTIO_F_INDIRECT_DESC)) < 0)
			return err_make(err, EINVAL,
					"snapshot state: virtio-%s in slot %u: queue %u is not a "
					"valid ring in this VM's RAM",
					vdev->ops->name, id, q);
		vq->last_avail = s->last_avail;
		vq->used_idx = s->used_idx;
		vq->signalled_used = s->signalled_used;
		vq->signalled_valid = s->signalled_valid;
		vq->broken = s->broken;
	}
	model = snap_find(r, SNAP_VIRTIO_MODEL, id, &mlen);
	if (vdev->ops->state_load) {
		if (!model)
			return err_make(err, EINVAL,
					"snapshot state: no state for virtio-%s in slot %u",
					vdev->ops->name, id);
		if (vdev->ops->state_load(vdev, model, mlen) < 0)
			return err_make(err, EINVAL,
					"snapshot state: virtio-%s in slot %u: bad device state",
					vdev->ops->name, id);
	}
	return 0;
}
