"""ocpp_dp/lean_queue.py: the queue each connected charger keeps twice (Daphne's input queue, its
channel in the in-memory layer) behaves as asyncio.Queue does where they use it."""
import asyncio

import pytest

from ocpp_dp.lean_queue import LeanQueue

from .test_server_tuning import run_in_server_process


async def test_items_come_out_in_order_and_a_getter_waits_for_the_next():
    queue = LeanQueue()
    queue.put_nowait(1)
    queue.put_nowait(2)
    assert (queue.qsize(), await queue.get(), queue.get_nowait(), queue.empty()) == (2, 1, 2, True)
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()
    queue.put_nowait("frame")
    assert await asyncio.wait_for(waiting, 1) == "frame"
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


async def test_a_full_queue_refuses_and_an_unbounded_one_does_not():
    bounded = LeanQueue(2)
    bounded.put_nowait(1)
    bounded.put_nowait(2)
    with pytest.raises(asyncio.QueueFull):
        bounded.put_nowait(3)
    unbounded = LeanQueue()
    for n in range(10000):
        unbounded.put_nowait(n)
    assert unbounded.qsize() == 10000


async def test_several_getters_are_served_in_turn_and_a_cancelled_one_passes_its_item_on():
    queue = LeanQueue()
    first, second, third = (asyncio.ensure_future(queue.get()) for _ in range(3))
    await asyncio.sleep(0)
    queue.put_nowait("a")
    first.cancel()  # woken for "a", cancelled before it ran: "a" goes to the next getter
    await asyncio.sleep(0)
    assert first.cancelled()
    assert await asyncio.wait_for(second, 1) == "a"
    third.cancel()  # cancelled while waiting: it leaves no trace
    await asyncio.sleep(0)
    queue.put_nowait("b")
    assert await asyncio.wait_for(queue.get(), 1) == "b" and queue.empty()


def test_the_server_uses_it_for_its_input_queues_and_the_in_memory_layer():
    code = (
        "import ocpp_dp.asgi\n"
        "from daphne import server\n"
        "from channels.layers import get_channel_layer\n"
        "import asyncio\n"
        "layer = get_channel_layer()\n"
        "async def main():\n"
        "    channel = await layer.new_channel()\n"
        "    await layer.send(channel, {'type': 'x'})\n"
        "    print(type(layer.channels[channel]).__name__, (await layer.receive(channel))['type'], channel in layer.channels)\n"
        "print(type(server.asyncio.Queue()).__name__, server.asyncio.ensure_future is asyncio.ensure_future)\n"
        "asyncio.run(main())\n"
    )
    assert run_in_server_process(code)[-2:] == ["LeanQueue True", "LeanQueue x False"]
