/* SPDX-License-Identifier: BSD-2-Clause */
/* Intrusive doubly linked list: queues of operations without allocations. */
#ifndef RMX_CORE_LIST_H
#define RMX_CORE_LIST_H

#include <stddef.h>

struct rmx__list {
	struct rmx__list *next, *prev;
};

#define rmx__container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

static inline void rmx__list_init(struct rmx__list *head)
{
	head->next = head;
	head->prev = head;
}

static inline int rmx__list_empty(const struct rmx__list *head)
{
	return head->next == head;
}

static inline void rmx__list_add_tail(struct rmx__list *head,
				      struct rmx__list *node)
{
	node->prev = head->prev;
	node->next = head;
	head->prev->next = node;
	head->prev = node;
}

static inline void rmx__list_del(struct rmx__list *node)
{
	node->prev->next = node->next;
	node->next->prev = node->prev;
	node->next = node;
	node->prev = node;
}

/* Removes and returns the first node, or NULL. */
static inline struct rmx__list *rmx__list_pop(struct rmx__list *head)
{
	struct rmx__list *node = head->next;

	if (node == head)
		return NULL;
	rmx__list_del(node);
	return node;
}

#endif
