/* Batched UDP receive for the RTP hot path: one recvmmsg(2) fills up to `max`
 * datagrams, so a loop wake-up with N queued datagrams costs one syscall, not N.
 * recv_batch(fd, max, bufsize) -> list of (bytes, (host, port)); [] when the socket
 * has nothing (EAGAIN). IPv4 and IPv6 peers. Other errors raise OSError.
 * The pure-Python twin is sharpeyes.live.fastrecv.recv_batch_py. */
#define PY_SSIZE_T_CLEAN
#define _GNU_SOURCE
#include <Python.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#define MAX_BATCH 256

static char *pool = NULL;
static size_t pool_size = 0;

static PyObject *addr_tuple(struct sockaddr_storage *ss) {
    char host[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        return Py_BuildValue("(si)", host, ntohs(a->sin_port));
    }
    if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        return Py_BuildValue("(siII)", host, ntohs(a->sin6_port),
                             (unsigned int)ntohl(a->sin6_flowinfo),
                             (unsigned int)a->sin6_scope_id);
    }
    Py_RETURN_NONE;
}

static PyObject *recv_batch(PyObject *self, PyObject *args) {
    (void)self;
    int fd, max, bufsize;
    if (!PyArg_ParseTuple(args, "iii", &fd, &max, &bufsize)) return NULL;
    if (max < 1) max = 1;
    if (max > MAX_BATCH) max = MAX_BATCH;
    if (bufsize < 1 || bufsize > 65536) {
        PyErr_SetString(PyExc_ValueError, "bufsize must be 1..65536");
        return NULL;
    }
    /* One buffer reused across calls (grown on demand). The GIL is held throughout:
     * the call never blocks (MSG_DONTWAIT), so no other thread can share the buffer. */
    size_t need = (size_t)max * (size_t)bufsize;
    if (need > pool_size) {
        char *grown = PyMem_Realloc(pool, need);
        if (!grown) return PyErr_NoMemory();
        pool = grown;
        pool_size = need;
    }
    struct mmsghdr msgs[MAX_BATCH];
    struct iovec iov[MAX_BATCH];
    struct sockaddr_storage addrs[MAX_BATCH];
    memset(msgs, 0, sizeof(struct mmsghdr) * (size_t)max);
    for (int i = 0; i < max; i++) {
        iov[i].iov_base = pool + (size_t)i * (size_t)bufsize;
        iov[i].iov_len = (size_t)bufsize;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &addrs[i];
        msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
    }
    int n = recvmmsg(fd, msgs, (unsigned int)max, MSG_DONTWAIT, NULL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return PyList_New(0);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    for (int i = 0; i < n; i++) {
        /* A datagram larger than bufsize is truncated, exactly as recvfrom(bufsize) does. */
        PyObject *data = PyBytes_FromStringAndSize(iov[i].iov_base, (Py_ssize_t)msgs[i].msg_len);
        PyObject *addr = data ? addr_tuple(&addrs[i]) : NULL;
        PyObject *item = addr ? PyTuple_Pack(2, data, addr) : NULL;
        Py_XDECREF(data);
        Py_XDECREF(addr);
        if (!item) { Py_DECREF(out); return NULL; }
        PyList_SET_ITEM(out, i, item);
    }
    return out;
}

static PyMethodDef methods[] = {
    {"recv_batch", recv_batch, METH_VARARGS,
     "recv_batch(fd, max, bufsize) -> [(bytes, addr)]: up to max datagrams in one recvmmsg."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastrecv", NULL, -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastrecv(void) { return PyModule_Create(&module); }
