from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes

from chain.connection import ChainConnection
from chain.tx import TxSender

THREADS = 8
PER_THREAD = 10


def _transfer(sender: TxSender, account: LocalAccount, to: str) -> HexBytes:
    return sender.send_params({"to": to, "value": 1, "gas": 21000}, account=account)


def test_concurrent_sends_from_one_key_get_contiguous_nonces(
    clean_conn: ChainConnection, sender: TxSender, operator: LocalAccount
) -> None:
    w3 = clean_conn.w3
    sink = clean_conn.new_account(fund=False).address
    start = w3.eth.get_transaction_count(operator.address)

    def worker(_: int) -> list[HexBytes]:
        return [_transfer(sender, operator, sink) for _ in range(PER_THREAD)]

    with ThreadPoolExecutor(THREADS) as pool:
        hashes = [h for batch in pool.map(worker, range(THREADS)) for h in batch]

    receipts = [sender.wait(h) for h in hashes]
    assert all(r["status"] == 1 for r in receipts)
    nonces = sorted(w3.eth.get_transaction(h)["nonce"] for h in hashes)
    assert nonces == list(range(start, start + THREADS * PER_THREAD))
    assert w3.eth.get_balance(sink) == THREADS * PER_THREAD


def test_sender_resyncs_after_an_out_of_band_transaction(
    clean_conn: ChainConnection, sender: TxSender, operator: LocalAccount
) -> None:
    sink = clean_conn.new_account(fund=False).address
    sender.wait(_transfer(sender, operator, sink))
    # Another process uses the same key behind our back.
    other = TxSender(type(clean_conn)(clean_conn.w3, clean_conn.settings))
    other.wait(_transfer(other, operator, sink))
    receipt = sender.wait(_transfer(sender, operator, sink))
    assert receipt["status"] == 1
    assert clean_conn.w3.eth.get_balance(sink) == 3
