"""Write upstream_sample.json: verbatim records of LAION-AI/AIW raw responses (Apache-2.0).

Sources (github LAION-AI/AIW):
* collected_responses/o1-mini/o1-mini_577-promptid_100-trials_1-sessions_20250202-173359.json,
  commit 9f6bae6e997b96b0f522dc2b69b7011b7e656d01: trials 0, 6, 9, 12, 15, 16 (verbatim).
* collected_responses/AIW_base_models.json, commit b6d5d0b84e11b778fb052ed3b442272e47784ad5:
  trials 0, 1 and 2 of meta-llama/Llama-2-7b-hf; `model_response` shortened to the characters
  shown below (the rest repeats unrelated problems; the upstream parse reads the first
  `answer:.*?(\\d+)` match, which lies inside the kept part).
The upstream `parsed_answer` and `correct` fields are kept as upstream computed them; the tests
check that scalinglab's upstream-compatible scorer reproduces them.
"""

import json
from pathlib import Path

P577 = ("Alice has 3 male friends and she also has 6 female friends. All mentioned persons are friends "
        "with each other and have no other friends aside. How many female friends does male friend of "
        "Alice have? Before providing answer to this problem, think carefully step by step and double "
        "check the path to the correct solution for any mistakes. Provide then the final answer in "
        "following form: \"### Answer: \".")
P87 = ("### Problem: Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's "
       "brother have?\n### Answer: ")


def rec(model, prompt, response, parsed, correct, trial, total, right):
    return {"model": model, "prompt": prompt, "model_response": response, "parsed_answer": parsed,
            "correct": correct, "trial": trial, "total_trials": total, "right_answer": right,
            "session": 0, "n_sessions": 1}


O1 = "openai/o1-mini"
records = [
    rec(O1, P577, "### Answer: 6", "6", False, 0, 100, "7"),
    rec(O1, P577, "Let's break down the problem step by step:  1. **Alice's Friends:**    - 3 male friends: Let's call them M1, M2, M3.    - 6 female friends: Let's call them F1, F2, F3, F4, F5, F6.  2. **Friendship Connections:**    - All mentioned persons are friends with each other.    - No one has any friends outside of this group.  3. **Analyzing a Male Friend's Female Friends:**    - Consider one of Alice's male friends, say M1.    - Since all mentioned persons are friends with each other, M1 is friends with:      - Alice      - The other male friends (M2, M3)      - All 6 female friends (F1 to F6)  4. **Answer:**    - Therefore, each male friend of Alice has **6** female friends.  ### Answer: 6", "6", False, 6, 100, "7"),
    rec(O1, P577, "Let's break down the problem step by step:  1. **Total Friends:**    - Alice has **3 male friends** and **6 female friends**.    - Including Alice herself, the total number of people mentioned is **10** (Alice + 3 males + 6 females).  2. **Friendship Relations:**    - All mentioned persons (Alice and her 9 friends) are friends with each other.    - There are no friends outside this group.  3. **Female Friends of a Male Friend:**    - Consider one of Alice's male friends.    - This male friend is friends with:      - **Alice** (1 female friend)      - **6 other female friends**    - Therefore, the male friend has a total of **7 female connections** within the group.  4. **Clarifying \"Female Friends\":**    - Typically, when referring to \"friends,\" a person does not include themselves.    - So, the male friend's female friends are the **6 other females**, excluding Alice.  **### Answer: 6**", "6", False, 9, 100, "7"),
    rec(O1, P577, "Let's break down the problem step by step:  1. **Alice's Friends**:    - 3 male friends.    - 6 female friends.  2. **Mutual Friendships**:    - All mentioned persons (Alice, her 3 male friends, and her 6 female friends) are friends with each other.    - No one else has any other friends aside from this group.  3. **Analyzing a Male Friend of Alice**:    - This male friend is friends with:      - Alice (who is female).      - The other 2 male friends.      - All 6 female friends of Alice.  4. **Counting Female Friends**:    - **Alice**: 1 female friend.    - **6 Female Friends**: 6 female friends.    - **Total Female Friends**: 1 (Alice) + 6 = **7**.  Therefore, each male friend of Alice has **7** female friends.  ### Answer: 7", "7", True, 12, 100, "7"),
    rec(O1, P577, "### Answer: 7", "7", True, 15, 100, "7"),
    rec(O1, P577, "### Answer: A male friend of Alice has 6 female friends.", "6", False, 16, 100, "7"),
    rec("meta-llama/Llama-2-7b-hf", P87, "### Problem: Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's brother have? ### Answer: 3  ### Problem: If you have 3 apples and you give 2 apples to your brother, how many apples do you have left? ### Answer: 1  ### Problem: If you have 3 apples and you give 2 apples to your brother, how many apples do you have left? ### Answer: 1", "3", False, 0, 60, "7"),
    rec("meta-llama/Llama-2-7b-hf", P87, "### Problem: Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's brother have? ### Answer: 1 ### Problem: If it takes 5 machines 5 minutes to make 5 widgets, how long would it take 100 machines to make 100 widgets? ### Answer: 100 minutes", "1", False, 1, 60, "7"),
    rec("meta-llama/Llama-2-7b-hf", P87, "### Problem: Alice has 3 brothers and she also has 6 sisters. How many sisters does Alice's brother have? ### Answer: 12  ### Problem: How many brothers does Alice's sister have? ### Answer: 2  ### Problem: How many sisters does Alice's brother have? ### Answer: 3", "12", False, 2, 60, "7"),
]

Path(__file__).with_name("upstream_sample.json").write_text(json.dumps(records, indent=1) + "\n")
